package io.tlsgate.delivery.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/**
 * Claiming due work on the real PostgreSQL: concurrent workers never get the same recipient,
 * a dead worker's lease runs out and the work is claimed again, and a worker that lost its
 * lease cannot record a result (fencing).
 */
@QuarkusTest
class ClaimsTest {

    @Inject
    MessageQueue queue;

    @Inject
    Claims claims;

    private List<Long> enqueue(int messages, long icid) throws Exception {
        Path data = Files.createTempFile("claims", ".eml");
        Files.writeString(data, "Subject: x\r\n\r\nhi\r\n");
        List<Long> mids = new ArrayList<>();
        for (int i = 0; i < messages; i++) {
            mids.add(queue.enqueue(new NewMessage("a@example.com", List.of("x@one.test", "y@two.test", "z@one.test"), data,
                    Files.size(data), icid, "test", NewMessage.TlsFacts.NONE)));
        }
        Files.delete(data);
        return mids;
    }

    @Test
    void concurrentWorkersNeverShareARecipient() throws Exception {
        long icid = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        Set<Long> mine = new HashSet<>(enqueue(100, icid));
        Set<String> seen = ConcurrentHashMap.newKeySet();
        List<String> duplicates = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> fs = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            String worker = "w" + w;
            fs.add(pool.submit(() -> {
                List<Claims.Work> got;
                while (!(got = claims.claim(worker, 25, Duration.ofMinutes(5))).isEmpty()) {
                    for (Claims.Work work : got) {
                        assertTrue(work.addresses().stream().allMatch(a -> a.endsWith("@" + work.domain())));
                        for (int rid : work.rids()) {
                            if (!seen.add(work.mid() + "/" + rid)) {
                                duplicates.add(work.mid() + "/" + rid);
                            }
                        }
                        if (mine.contains(work.mid())) {
                            claims.finish(worker, work.mid(), work.rids(), Claims.Result.DELIVERED, "250 ok");
                        }
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get();
        }
        pool.shutdown();
        assertTrue(duplicates.isEmpty(), "claimed twice: " + duplicates);
        long ours = seen.stream().filter(k -> mine.contains(Long.parseLong(k.split("/")[0]))).count();
        assertEquals(300, ours, "every recipient of the 100 messages claimed exactly once");
        for (long mid : mine) {
            QueuedMessage m = queue.find(mid).orElseThrow();
            assertEquals("DONE", m.state());
            assertTrue(m.recipients().stream().allMatch(r -> r.state().equals("DELIVERED")));
        }
    }

    @Test
    void aDeadWorkersLeaseRunsOutAndItsLateResultDoesNotCount() throws Exception {
        long icid = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        long mid = enqueue(1, icid).get(0);
        // Drain whatever else is due so this message is reachable, keeping only ours leased briefly.
        Claims.Work ours = null;
        List<Claims.Work> got;
        while (ours == null && !(got = claims.claim("dead", 100, Duration.ofMillis(800))).isEmpty()) {
            ours = got.stream().filter(w -> w.mid() == mid && w.domain().equals("one.test")).findFirst().orElse(null);
        }
        assertTrue(ours != null, "our work was claimed");
        Thread.sleep(1200);
        Claims.Work again = null;
        while (again == null && !(got = claims.claim("alive", 100, Duration.ofMinutes(5))).isEmpty()) {
            again = got.stream().filter(w -> w.mid() == mid && w.domain().equals("one.test")).findFirst().orElse(null);
        }
        assertTrue(again != null, "the expired lease was claimed again");
        assertEquals(ours.rids(), again.rids());
        assertEquals(0, claims.finish("dead", mid, ours.rids(), Claims.Result.DELIVERED, "250 late"),
                "the dead worker lost its lease");
        assertEquals(2, claims.defer("alive", mid, again.rids(), Instant.now().plus(Duration.ofHours(1)), "451 try later"));
        QueuedMessage m = queue.find(mid).orElseThrow();
        assertEquals("QUEUED", m.state());
        // The queue summary shows the deferred recipients under their domain.
        io.restassured.RestAssured.given().header("Authorization", io.tlsgate.testkit.TestTokens.bearer(
                io.tlsgate.testkit.TestTokens.READER)).when().get("/api/v1/queue").then().statusCode(200)
                .body("messagesByState.QUEUED", org.hamcrest.Matchers.greaterThanOrEqualTo(1))
                .body("queuedByDestination.domain", org.hamcrest.Matchers.hasItem("one.test"));
        assertTrue(m.recipients().stream().filter(r -> r.address().endsWith("@one.test"))
                .allMatch(r -> r.state().equals("QUEUED")));
    }

    @Test
    void aRenewedLeaseIsNotClaimedAgainAndRunsOutOnceRenewalStops() throws Exception {
        long icid = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        long mid = enqueue(1, icid).get(0);
        Duration lease = Duration.ofSeconds(3);
        Claims.Work ours = null;
        List<Claims.Work> got;
        while (ours == null && !(got = claims.claim("slow", 100, lease)).isEmpty()) {
            ours = got.stream().filter(w -> w.mid() == mid && w.domain().equals("one.test")).findFirst().orElse(null);
        }
        assertTrue(ours != null, "our work was claimed");
        for (int i = 0; i < 8; i++) {
            Thread.sleep(500);
            assertTrue(claims.renew("slow", List.of(mid), lease) >= 2, "both one.test recipients renewed");
        }
        // 4 s after the claim, longer than one lease: still ours.
        assertTrue(claimedBy("thief", mid).isEmpty(), "a renewed lease is not claimed again");
        assertEquals(0, claims.renew("thief", List.of(mid), lease), "only the holder renews");
        Thread.sleep(3500);
        assertEquals(ours.rids(), claimedBy("thief", mid).orElseThrow().rids(), "without renewal the lease ran out");
    }

    private java.util.Optional<Claims.Work> claimedBy(String worker, long mid) {
        List<Claims.Work> got;
        while (!(got = claims.claim(worker, 100, Duration.ofMinutes(5))).isEmpty()) {
            java.util.Optional<Claims.Work> w = got.stream().filter(x -> x.mid() == mid && x.domain().equals("one.test"))
                    .findFirst();
            if (w.isPresent()) {
                return w;
            }
        }
        return java.util.Optional.empty();
    }
}
