package io.tlsgate.delivery.limits;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Slow start per destination domain, in this replica: how many pieces of messages (each on one
 * connection at a time) go to a domain at once. A domain starts at the initial window
 * ({@code tlsgate.delivery.initial-destination-concurrency}, 5, as Postfix's
 * {@code initial_destination_concurrency}); each piece that reached a server widens it by
 * 1/window (one more connection per window of successes), each piece none of whose connections
 * got a session narrows it by one, never below 1 (one more such failure at 1 suspends the
 * domain: see {@link Suspended}) and never above the destination's
 * {@code maxConcurrentConnections} (which {@link ConnectionSlots} enforces on its own, per
 * replica or for the whole cluster). A burst of work for one domain thus opens a few
 * connections, more while they work, fewer while they fail, instead of hundreds at once that
 * the server cannot take. Pieces beyond the window wait here in order, holding neither content
 * nor a connection; a domain is forgotten once nothing is in flight or waiting for it.
 */
public final class ConcurrencyWindow {

    /** What a piece showed about the destination. */
    public enum Feedback {
        /** A server answered and took part in a transaction. */
        REACHED,
        /** No connection got as far as a session (refused, timed out, no greeting). */
        UNREACHABLE,
        /** Neither (nothing was tried, a limit held it back, TLS was refused by policy). */
        NONE
    }

    /**
     * The domain is not being reached: a piece failed to get a session while the window was
     * already down to one connection (as Postfix's dead destination after a failed cohort at
     * concurrency 1). The pieces waiting then get this instead of a place, so that they go back
     * to the queue at once rather than wait, one connection time-out after another, in memory.
     */
    public static final class Suspended extends RuntimeException {
        public Suspended(String domain) {
            super("delivery to " + domain + " suspended: no connection got a session at a concurrency of 1", null, false,
                    false);
        }
    }

    /** A piece's place in the window; {@link #done} gives it back (once; later calls do nothing). */
    public interface Ticket {
        void done(Feedback feedback);
    }

    private static final class Destination {
        double window;
        int max;
        int inUse;
        final ArrayDeque<Promise<Ticket>> waiting = new ArrayDeque<>();

        Destination(int initial, int max) {
            this.window = initial;
            this.max = max;
        }

        boolean hasRoom() {
            return inUse < Math.min((int) window, max);
        }
    }

    private final int initial;
    /** Guarded by this. */
    private final Map<String, Destination> destinations = new HashMap<>();

    public ConcurrencyWindow(int initial) {
        if (initial < 1) {
            throw new IllegalArgumentException("the initial destination concurrency must be at least 1: " + initial);
        }
        this.initial = initial;
    }

    /**
     * A place for one piece to {@code domain}, whose {@code maxConcurrentConnections} is
     * {@code max}: at once when the window has room and nobody waits before it, otherwise when
     * an earlier piece gives its place back. The future completes on the thread that gave it back.
     */
    public Future<Ticket> enter(String domain, int max) {
        Promise<Ticket> later = Promise.promise();
        Destination d;
        synchronized (this) {
            int cap = Math.max(1, max);
            d = destinations.computeIfAbsent(domain, k -> new Destination(Math.min(initial, cap), cap));
            d.max = cap;
            d.window = Math.min(d.window, cap);
            if (d.waiting.isEmpty() && d.hasRoom()) {
                d.inUse++;
                later = null;
            } else {
                d.waiting.add(later);
            }
        }
        return later == null ? Future.succeededFuture(ticket(domain, d)) : later.future();
    }

    /**
     * The domains with at least a window's worth of pieces waiting: the scheduler does not claim
     * more of their work meanwhile, so one domain's backlog never fills the room other domains need.
     */
    public synchronized Set<String> crowded() {
        Set<String> out = new HashSet<>();
        destinations.forEach((domain, d) -> {
            if (!d.waiting.isEmpty() && d.waiting.size() >= Math.min((int) d.window, d.max)) {
                out.add(domain);
            }
        });
        return out;
    }

    /** The current window of {@code domain} (its initial value when it is not known). */
    public synchronized int window(String domain) {
        Destination d = destinations.get(domain);
        return d == null ? initial : (int) d.window;
    }

    private Ticket ticket(String domain, Destination d) {
        AtomicBoolean given = new AtomicBoolean();
        return feedback -> {
            if (given.compareAndSet(false, true)) {
                giveBack(domain, d, feedback);
            }
        };
    }

    private void giveBack(String domain, Destination d, Feedback feedback) {
        List<Promise<Ticket>> go = new ArrayList<>();
        List<Promise<Ticket>> suspended = new ArrayList<>();
        synchronized (this) {
            d.inUse--;
            if (feedback == Feedback.REACHED) {
                d.window = Math.min(d.max, d.window + 1.0 / d.window);
            } else if (feedback == Feedback.UNREACHABLE) {
                if (d.window < 2) {
                    suspended.addAll(d.waiting);
                    d.waiting.clear();
                }
                d.window = Math.max(1, d.window - 1);
            }
            while (!d.waiting.isEmpty() && d.hasRoom()) {
                d.inUse++;
                go.add(d.waiting.poll());
            }
            if (d.inUse == 0 && d.waiting.isEmpty()) {
                destinations.remove(domain, d);
            }
        }
        go.forEach(p -> p.complete(ticket(domain, d)));
        suspended.forEach(p -> p.fail(new Suspended(domain)));
    }
}
