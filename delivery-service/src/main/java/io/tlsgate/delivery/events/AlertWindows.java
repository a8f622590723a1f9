package io.tlsgate.delivery.events;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Coalesces required-TLS failure alerts per destination domain and reason (docs/events.md): the
 * first failure in a window is alerted at once with count 1; later ones in the same window are
 * only counted; when the window has passed, {@link #flush} gives one follow-up alert with the
 * number of failures that were held back. A broken peer cannot flood the pager. The windows are
 * rows of {@code alert_window}, changed in the caller's transaction (the one that records the
 * delivery result and writes the alerts to the outbox): shared by the replicas, and a crash
 * loses no count.
 */
public final class AlertWindows {

    /** An alert to publish: {@code count} failures of {@code reason} for {@code domain} since {@code since}. */
    public record Alert(String domain, String reason, int count, Instant since, Instant until, boolean followUp) {}

    private final Duration window;

    public AlertWindows(Duration window) {
        this.window = window;
    }

    /**
     * Records a failure in {@code c}; returns the alerts to publish now: none when it is held
     * back, else the follow-up of an ended window that was not flushed yet (if any) and the new
     * alert.
     */
    public List<Alert> record(Connection c, String domain, String reason, Instant now) throws SQLException {
        try (PreparedStatement ins = c.prepareStatement("insert into alert_window (domain, reason, started, held, last) "
                + "values (?, ?, ?, -1, ?) on conflict (domain, reason) do nothing")) {
            ins.setString(1, domain);
            ins.setString(2, reason);
            ins.setTimestamp(3, Timestamp.from(now));
            ins.setTimestamp(4, Timestamp.from(now));
            ins.executeUpdate();
        }
        Instant started;
        int held;
        Instant last;
        try (PreparedStatement sel = c.prepareStatement("select started, held, last from alert_window "
                + "where domain = ? and reason = ? for update")) {
            sel.setString(1, domain);
            sel.setString(2, reason);
            try (ResultSet r = sel.executeQuery()) {
                r.next();
                started = r.getTimestamp(1).toInstant();
                held = r.getInt(2);
                last = r.getTimestamp(3).toInstant();
            }
        }
        // held -1: the row was made just now, for this failure.
        if (held >= 0 && now.isBefore(started.plus(window))) {
            update(c, domain, reason, started, held + 1, now);
            return List.of();
        }
        List<Alert> out = new ArrayList<>();
        if (held > 0) {
            out.add(new Alert(domain, reason, held, started, last, true));
        }
        update(c, domain, reason, now, 0, now);
        out.add(new Alert(domain, reason, 1, now, now, false));
        return out;
    }

    /** In {@code c}: follow-up alerts for windows that have ended with failures held back; forgets ended windows. */
    public List<Alert> flush(Connection c, Instant now) throws SQLException {
        List<Alert> out = new ArrayList<>();
        try (PreparedStatement del = c.prepareStatement("delete from alert_window where ctid in (select ctid from alert_window "
                + "where started <= ? for update skip locked) returning domain, reason, started, held, last")) {
            del.setTimestamp(1, Timestamp.from(now.minus(window)));
            try (ResultSet r = del.executeQuery()) {
                while (r.next()) {
                    if (r.getInt(4) > 0) {
                        out.add(new Alert(r.getString(1), r.getString(2), r.getInt(4), r.getTimestamp(3).toInstant(),
                                r.getTimestamp(5).toInstant(), true));
                    }
                }
            }
        }
        return out;
    }

    private static void update(Connection c, String domain, String reason, Instant started, int held, Instant last)
            throws SQLException {
        try (PreparedStatement up = c.prepareStatement("update alert_window set started = ?, held = ?, last = ? "
                + "where domain = ? and reason = ?")) {
            up.setTimestamp(1, Timestamp.from(started));
            up.setInt(2, held);
            up.setTimestamp(3, Timestamp.from(last));
            up.setString(4, domain);
            up.setString(5, reason);
            up.executeUpdate();
        }
    }
}
