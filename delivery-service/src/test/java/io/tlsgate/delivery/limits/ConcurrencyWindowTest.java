package io.tlsgate.delivery.limits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.delivery.limits.ConcurrencyWindow.Feedback;
import io.tlsgate.delivery.limits.ConcurrencyWindow.Ticket;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ConcurrencyWindowTest {

    private static List<Future<Ticket>> enter(ConcurrencyWindow w, String domain, int n, int max) {
        List<Future<Ticket>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(w.enter(domain, max));
        }
        return out;
    }

    private static long granted(List<Future<Ticket>> f) {
        return f.stream().filter(Future::succeeded).count();
    }

    @Test
    void aBurstGetsTheInitialWindowAndTheRestWaitsInOrder() {
        ConcurrencyWindow w = new ConcurrencyWindow(5);
        List<Future<Ticket>> f = enter(w, "burst.test", 400, 500);
        assertEquals(5, granted(f), "five at first");
        assertTrue(f.subList(0, 5).stream().allMatch(Future::succeeded), "the first five");
        assertEquals(Set.of("burst.test"), w.crowded(), "a window's worth waits: not claimed meanwhile");
        f.get(0).result().done(Feedback.NONE);
        assertEquals(6, granted(f), "a place given back goes to the next in line");
        assertTrue(f.get(5).succeeded());
        f.get(0).result().done(Feedback.REACHED); // a second done changes nothing
        assertEquals(6, granted(f));
        assertEquals(5, w.window("burst.test"));
    }

    @Test
    void theWindowWidensByOneAWindowOfSuccessesAndNarrowsByOneAFailure() {
        ConcurrencyWindow w = new ConcurrencyWindow(5);
        List<Future<Ticket>> f = enter(w, "grow.test", 100, 500);
        int next = 0;
        // Six pieces reach the server: 5 + 1/5 + 1/5.2 + ... = 6.1 after the sixth.
        for (int i = 0; i < 5; i++) {
            f.get(next++).result().done(Feedback.REACHED);
        }
        assertEquals(5, w.window("grow.test"), "5.93 after five");
        assertEquals(5 + 5, granted(f), "each place given back taken again, no more");
        f.get(next++).result().done(Feedback.REACHED);
        assertEquals(6, w.window("grow.test"));
        assertEquals(5 + 6 + 1, granted(f), "one more connection at once");
        // Two that could not connect: 6 -> 4, and 4 in use: nobody new.
        f.get(next++).result().done(Feedback.UNREACHABLE);
        f.get(next++).result().done(Feedback.UNREACHABLE);
        assertEquals(4, w.window("grow.test"));
        assertEquals(12, granted(f));
        f.get(next++).result().done(Feedback.NONE);
        assertEquals(13, granted(f), "3 in use of 4: one more");
        assertEquals(4, w.window("grow.test"), "NONE leaves the window alone");
    }

    @Test
    void neverBelowOneNorAboveTheDestinationsMaximum() {
        ConcurrencyWindow w = new ConcurrencyWindow(5);
        List<Future<Ticket>> f = enter(w, "two.test", 50, 2);
        assertEquals(2, granted(f), "maxConcurrentConnections 2 caps the initial window");
        for (int i = 0; i < 20; i++) {
            f.get(i).result().done(Feedback.REACHED);
        }
        assertEquals(2, w.window("two.test"));
        assertEquals(22, granted(f));
        f.get(20).result().done(Feedback.UNREACHABLE);
        assertEquals(1, w.window("two.test"));
        assertEquals(22, granted(f), "one in use of a window of one: nobody new");
        f.get(21).result().done(Feedback.NONE);
        assertEquals(1, w.window("two.test"), "never below one connection");
        assertTrue(f.get(22).succeeded());
        assertFalse(f.get(23).isComplete());
    }

    @Test
    void aFailureAtOneConnectionSuspendsTheWaitingPieces() {
        ConcurrencyWindow w = new ConcurrencyWindow(2);
        List<Future<Ticket>> f = enter(w, "dead.test", 10, 500);
        assertEquals(2, granted(f));
        // Both connections time out: 2 -> 1, and the second failure comes at 1.
        f.get(0).result().done(Feedback.UNREACHABLE);
        assertEquals(1, w.window("dead.test"));
        assertTrue(f.subList(2, 10).stream().noneMatch(Future::isComplete), "one failure at 2: the rest still wait");
        f.get(1).result().done(Feedback.UNREACHABLE);
        assertTrue(f.subList(2, 10).stream().allMatch(x -> x.failed() && x.cause() instanceof ConcurrencyWindow.Suspended),
                "a failure at 1: every waiting piece is sent back at once instead of one time-out after another");
        assertTrue(f.get(2).cause().getMessage().contains("dead.test"), f.get(2).cause().getMessage());
        assertTrue(w.crowded().isEmpty());
        assertTrue(w.enter("dead.test", 500).succeeded(), "work that comes later starts afresh");
    }

    @Test
    void domainsAreIndependentAndForgottenWhenIdle() {
        ConcurrencyWindow w = new ConcurrencyWindow(1);
        Future<Ticket> a = w.enter("a.test", 10);
        Future<Ticket> a2 = w.enter("a.test", 10);
        Future<Ticket> b = w.enter("b.test", 10);
        assertTrue(a.succeeded() && b.succeeded(), "another domain's window is its own");
        assertFalse(a2.succeeded());
        a.result().done(Feedback.NONE);
        a2.result().done(Feedback.REACHED);
        b.result().done(Feedback.REACHED);
        assertTrue(w.crowded().isEmpty());
        assertEquals(1, w.window("a.test"), "forgotten once idle: back to the initial window");
        assertThrows(IllegalArgumentException.class, () -> new ConcurrencyWindow(0));
    }

    @Test
    void manyThreadsNeverHoldMoreThanTheWindow() throws Exception {
        ConcurrencyWindow w = new ConcurrencyWindow(3);
        AtomicInteger inUse = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        int pieces = 2_000;
        CountDownLatch all = new CountDownLatch(pieces);
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            for (int i = 0; i < pieces; i++) {
                pool.execute(() -> w.enter("race.test", 3).onSuccess(t -> pool.execute(() -> {
                    try {
                        most.accumulateAndGet(inUse.incrementAndGet(), Math::max);
                        Thread.onSpinWait();
                        inUse.decrementAndGet();
                        t.done(Feedback.REACHED);
                    } catch (Throwable e) {
                        errors.add(e);
                    } finally {
                        all.countDown();
                    }
                })));
            }
            assertTrue(all.await(30, TimeUnit.SECONDS), "every piece got its turn: " + all.getCount() + " left");
        } finally {
            pool.shutdownNow();
        }
        assertTrue(errors.isEmpty(), errors.toString());
        assertTrue(most.get() <= 3, "at most the window at once: " + most.get());
        assertTrue(w.crowded().isEmpty());
    }
}
