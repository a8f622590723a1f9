package io.tlsgate.delivery.check;

import io.tlsgate.platform.problem.Problem;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Keeps the TLS check from being used to hammer a third party: at most {@code perDestination}
 * checks of one destination per {@code window}, and {@code concurrent} checks at once, on each
 * replica. Over either: 429 with {@code Retry-After}.
 */
public final class CheckLimiter {

    /** A running check's place; {@link #close} once it ends. */
    public static final class Permit implements AutoCloseable {
        private final Semaphore running;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Permit(Semaphore running) {
            this.running = running;
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                running.release();
            }
        }
    }

    private final int perDestination;
    private final long windowNanos;
    private final Semaphore running;
    private final Map<String, Deque<Long>> started = new HashMap<>();

    CheckLimiter(int perDestination, Duration window, int concurrent) {
        this.perDestination = perDestination;
        this.windowNanos = window.toNanos();
        this.running = new Semaphore(concurrent);
    }

    Permit admit(String destination) {
        if (!running.tryAcquire()) {
            throw tooMany("too many TLS checks are running; try again shortly", 5);
        }
        long now = System.nanoTime();
        synchronized (started) {
            if (started.size() > 10_000) {
                started.values().removeIf(q -> q.isEmpty() || now - q.peekLast() > windowNanos);
            }
            Deque<Long> q = started.computeIfAbsent(destination, k -> new ArrayDeque<>());
            while (!q.isEmpty() && now - q.peekFirst() > windowNanos) {
                q.removeFirst();
            }
            if (q.size() >= perDestination) {
                running.release();
                long wait = Math.max(1, (windowNanos - (now - q.peekFirst())) / 1_000_000_000L + 1);
                throw tooMany(destination + " was checked " + q.size() + " times in the last "
                        + Duration.ofNanos(windowNanos).toSeconds() + " s (tlsgate.delivery.tls-check.per-destination)", wait);
            }
            q.addLast(now);
        }
        return new Permit(running);
    }

    private static WebApplicationException tooMany(String detail, long seconds) {
        return new WebApplicationException(Response.fromResponse(
                Problem.of(Response.Status.TOO_MANY_REQUESTS, detail).toResponse()).header("Retry-After", seconds).build());
    }
}
