package io.tlsgate.delivery.events;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Coalesces required-TLS failure alerts per destination domain and reason (docs/events.md): the
 * first failure in a window is alerted at once with count 1; later ones in the same window are
 * only counted; when the window has passed, {@link #flush} gives one follow-up alert with the
 * number of failures that were held back. A broken peer cannot flood the pager.
 */
public final class AlertCoalescer {

    /** An alert to publish: {@code count} failures of {@code reason} for {@code domain} since {@code since}. */
    public record Alert(String domain, String reason, int count, Instant since, Instant until, boolean followUp) {}

    private record Key(String domain, String reason) {}

    private static final class Window {
        final Instant start;
        int heldBack;
        Instant last;

        Window(Instant start) {
            this.start = start;
            this.last = start;
        }
    }

    private final Duration window;
    private final Map<Key, Window> open = new HashMap<>();

    public AlertCoalescer(Duration window) {
        this.window = window;
    }

    /**
     * Records a failure; returns the alerts to publish now: none when it is held back, else
     * the follow-up of an ended window that was not flushed yet (if any) and the new alert.
     */
    public synchronized List<Alert> record(String domain, String reason, Instant now) {
        Key k = new Key(domain, reason);
        Window w = open.get(k);
        if (w != null && now.isBefore(w.start.plus(window))) {
            w.heldBack++;
            w.last = now;
            return List.of();
        }
        List<Alert> out = new ArrayList<>();
        if (w != null && w.heldBack > 0) {
            out.add(new Alert(domain, reason, w.heldBack, w.start, w.last, true));
        }
        open.put(k, new Window(now));
        out.add(new Alert(domain, reason, 1, now, now, false));
        return out;
    }

    /** Follow-up alerts for windows that have ended with failures held back; forgets ended windows. */
    public synchronized List<Alert> flush(Instant now) {
        List<Alert> out = new ArrayList<>();
        for (Iterator<Map.Entry<Key, Window>> it = open.entrySet().iterator(); it.hasNext();) {
            Map.Entry<Key, Window> e = it.next();
            Window w = e.getValue();
            if (!now.isBefore(w.start.plus(window))) {
                if (w.heldBack > 0) {
                    out.add(new Alert(e.getKey().domain(), e.getKey().reason(), w.heldBack, w.start, w.last, true));
                }
                it.remove();
            }
        }
        return out;
    }
}
