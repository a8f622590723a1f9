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
        byte[] data = "Subject: x\r\n\r\nhi\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        List<Long> mids = new ArrayList<>();
        for (int i = 0; i < messages; i++) {
            mids.add(queue.enqueue(new NewMessage("a@example.com", List.of("x@one.test", "y@two.test", "z@one.test"),
                    NewMessage.Content.of(data), data.length, icid, "test", NewMessage.TlsFacts.NONE)));
        }
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

    /**
     * One batch for a piece of messages: results for several messages, their attempts, and a
     * postponement without an attempt counted, in one transaction; a message with nothing left
     * queued is DONE; its follow-ups run once it is committed.
     */
    @Test
    void aBatchRecordsSeveralMessagesInOneTransaction() throws Exception {
        long icid = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        List<Long> mids = enqueue(2, icid);
        java.util.Map<String, Claims.Work> ours = new java.util.HashMap<>();
        List<Claims.Work> claimed;
        while (ours.size() < 4 && !(claimed = claims.claim("batch", 100, Duration.ofMinutes(5))).isEmpty()) {
            claimed.stream().filter(w -> mids.contains(w.mid())).forEach(w -> ours.put(w.mid() + " " + w.domain(), w));
        }
        assertEquals(4, ours.size(), "both messages, both domains claimed: " + ours.keySet());
        long a = mids.get(0);
        long b = mids.get(1);
        java.util.concurrent.atomic.AtomicInteger ran = new java.util.concurrent.atomic.AtomicInteger();
        Claims.Batch batch = new Claims.Batch()
                .finish(a, ours.get(a + " one.test").rids(), Claims.Result.DELIVERED, "250 2.0.0 ok")
                .attempt(a, new Attempts.Attempt(7, Instant.now(), ours.get(a + " one.test").rids(), "one.test", "mx.one.test", "192.0.2.1", 25,
                        new Attempts.Tls("NONE", "default", "not-attempted", null, null, "not-checked", null), "delivered",
                        "250 2.0.0 ok"))
                .postpone(b, ours.get(b + " one.test").rids(), Instant.now().plus(Duration.ofMinutes(1)), "451 4.4.5 limit")
                .then(ran::incrementAndGet);
        assertEquals(4, claims.commit("batch", batch));
        assertEquals(1, ran.get());
        QueuedMessage ma = queue.find(a).orElseThrow();
        assertTrue(ma.recipients().stream().filter(r -> r.address().endsWith("@one.test"))
                .allMatch(r -> r.state().equals("DELIVERED") && r.attempts() == 1), ma.toString());
        assertEquals("QUEUED", ma.state(), "two.test is still queued");
        QueuedMessage mb = queue.find(b).orElseThrow();
        assertTrue(mb.recipients().stream().filter(r -> r.address().endsWith("@one.test"))
                .allMatch(r -> r.state().equals("QUEUED") && r.attempts() == 0), "postponed, no attempt counted: " + mb);
        assertEquals(1, attempts.of(a).size());
        assertEquals(0, claims.commit("someone-else", new Claims.Batch().finish(b, ours.get(b + " one.test").rids(), Claims.Result.DELIVERED,
                "250 stolen")), "only the lease holder records");
        Claims.Work two = ours.get(a + " two.test");
        assertEquals(1, claims.commit("batch", new Claims.Batch().finish(a, two.rids(), Claims.Result.BOUNCED, "550 5.1.1 no")));
        assertEquals("DONE", queue.find(a).orElseThrow().state(), "nothing of it left queued");
    }

    @Inject
    Attempts attempts;

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
