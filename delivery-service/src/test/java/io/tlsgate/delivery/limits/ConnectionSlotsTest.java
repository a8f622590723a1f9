package io.tlsgate.delivery.limits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.vertx.core.Vertx;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import io.tlsgate.platform.tls.PeerTrust;

/**
 * Connection slots on the real PostgreSQL, as two replicas would hold them: never more than
 * the limit at once however they race, a slot given back is free at once, and the slots of a
 * replica that stopped renewing (kill -9) stay taken until their lease runs out.
 */
@QuarkusTest
class ConnectionSlotsTest {

    @Inject
    DataSource dataSource;

    @Inject
    Vertx vertx;

    private ConnectionSlots replica(Duration lease) {
        return new ConnectionSlots(dataSource, vertx, lease);
    }

    @Test
    void twoReplicasRacingNeverHoldMoreThanTheLimit() throws Exception {
        String key = "domain:race-" + UUID.randomUUID() + ".test";
        List<ConnectionSlots> replicas = List.of(replica(Duration.ofMinutes(1)), replica(Duration.ofMinutes(1)));
        AtomicInteger holding = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        AtomicInteger taken = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(12);
        List<Future<?>> jobs = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            ConnectionSlots r = replicas.get(i % 2);
            jobs.add(pool.submit(() -> {
                for (int n = 0; n < 40; n++) {
                    int slot = r.take(key, 3);
                    if (slot < 0) {
                        refused.incrementAndGet();
                        continue;
                    }
                    taken.incrementAndGet();
                    most.accumulateAndGet(holding.incrementAndGet(), Math::max);
                    assertTrue(slot >= 0 && slot < 3, "slot " + slot);
                    Thread.sleep(1);
                    holding.decrementAndGet();
                    r.give(key, slot);
                }
                return null;
            }));
        }
        for (Future<?> j : jobs) {
            j.get();
        }
        pool.shutdown();
        assertTrue(most.get() <= 3, "held at once: " + most.get());
        assertEquals(3, most.get(), "the limit is reached under contention");
        assertTrue(taken.get() > 0 && refused.get() > 0, taken + " taken, " + refused + " refused");
    }

    /** A burst of new connections to a destination with room for all of them: none is refused. */
    @Test
    void aBurstWithinTheLimitIsNeverRefused() throws Exception {
        String key = "domain:burst-" + UUID.randomUUID() + ".test";
        List<ConnectionSlots> replicas = List.of(replica(Duration.ofMinutes(1)), replica(Duration.ofMinutes(1)));
        ExecutorService pool = Executors.newFixedThreadPool(16);
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        List<Future<Integer>> takers = new ArrayList<>();
        for (int i = 0; i < 48; i++) {
            ConnectionSlots r = replicas.get(i % 2);
            takers.add(pool.submit(() -> {
                go.await();
                return r.take(key, 50);
            }));
        }
        go.countDown();
        java.util.Set<Integer> slots = new java.util.HashSet<>();
        for (Future<Integer> t : takers) {
            int slot = t.get();
            assertTrue(slot >= 0 && slot < 50, "refused or out of range: " + slot);
            assertTrue(slots.add(slot), "slot " + slot + " given twice");
        }
        pool.shutdown();
        assertEquals(48, slots.size());
    }

    @Test
    void aDeadReplicasSlotsStayTakenUntilTheirLeaseRunsOut() throws Exception {
        String key = "domain:dead-" + UUID.randomUUID() + ".test";
        ConnectionSlots dead = replica(Duration.ofSeconds(2)); // never renews: its renewer is not started
        ConnectionSlots alive = replica(Duration.ofMinutes(1));
        assertEquals(0, dead.take(key, 2));
        assertEquals(1, dead.take(key, 2));
        assertEquals(-1, alive.take(key, 2), "both slots are the dead replica's");
        Thread.sleep(2500);
        int slot = alive.take(key, 2);
        assertTrue(slot == 0 || slot == 1, "an expired slot is taken over: " + slot);
        alive.give(key, slot);
        assertTrue(alive.take(key, 2) >= 0, "a slot given back is free at once");
    }

    @Test
    void aPerReplicaGateCountsInMemoryAndReleasesOnce() {
        ConnectionSlots slots = replica(Duration.ofMinutes(1));
        DestinationLimits two = new DestinationLimits(2, -1, 1, false, false);
        SmtpDeliveryAttempt.Gate gate = slots.gate("local.test", two);
        SmtpDeliveryAttempt.Target t = new SmtpDeliveryAttempt.Target("192.0.2.1", 25, "mx.local.test", "local.test", List.of(),
                null, OutboundTlsMode.NONE, PeerTrust.NONE, "gw.test", null);
        Runnable first = gate.admit(t).toCompletionStage().toCompletableFuture().join();
        gate.admit(t).toCompletionStage().toCompletableFuture().join();
        Throwable refused = gate.admit(t).toCompletionStage().toCompletableFuture().handle((r, e) -> e).join();
        assertInstanceOf(SmtpDeliveryAttempt.LimitReached.class, refused.getCause() == null ? refused : refused.getCause());
        assertTrue(refused.getMessage().contains("2 connection(s) at once to local.test (per domain, this replica)"),
                refused.getMessage());
        first.run();
        assertEquals(1, slots.localCount("domain:local.test"));
        gate.admit(t).toCompletionStage().toCompletableFuture().join();
        assertEquals(2, slots.localCount("domain:local.test"));
    }

    @Test
    void perMxIpLimitsCountEachAddress() throws Exception {
        DestinationLimits perIp = new DestinationLimits(1, -1, 1, true, true);
        assertEquals("ip:192.0.2.1", perIp.key("example.test", java.net.InetAddress.getByName("192.0.2.1")));
        assertEquals("ip:2001:db8::25", perIp.key("example.test", java.net.InetAddress.getByName("2001:db8::25")));
        assertEquals("domain:example.test", new DestinationLimits(1, -1, 1, false, true).key("example.test",
                java.net.InetAddress.getByName("192.0.2.1")));
    }
}
