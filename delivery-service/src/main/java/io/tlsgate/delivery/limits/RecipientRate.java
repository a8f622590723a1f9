package io.tlsgate.delivery.limits;

import io.tlsgate.platform.db.Jdbc;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;

/**
 * recipientLimit N per M minutes, enforced as a GCRA: each destination key has the time at
 * which its next recipient may go (the "theoretical arrival time"); a message with k
 * recipients may go when that time has come, and moves it k x M/N minutes on. Recipients
 * are spread evenly over the period rather than sent in a burst at its start. Per replica the
 * time is kept in memory; for the whole cluster (SYSTEM) in {@code recipient_rate}, read and
 * moved under a row lock so replicas take turns.
 */
@ApplicationScoped
public class RecipientRate {

    /** How many of the messages offered may go now (a prefix), and when the next may. */
    public record Grant(int messages, Instant next) {}

    private final DataSource dataSource;
    private final Map<String, Instant> local = new ConcurrentHashMap<>();

    RecipientRate(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Takes the rate for as many of the messages as may go now, in order; {@code recipients}
     * holds each message's recipient count at this destination.
     */
    public Grant take(String key, List<Integer> recipients, DestinationLimits limits) {
        if (!limits.rated()) {
            return new Grant(recipients.size(), Instant.now());
        }
        if (!limits.cluster()) {
            Grant[] out = new Grant[1];
            local.compute(key, (k, tat) -> {
                out[0] = grant(tat, recipients, limits);
                return out[0].next();
            });
            return out[0];
        }
        return Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ins = c.prepareStatement(
                    "insert into recipient_rate (key, tat) values (?, now()) on conflict (key) do nothing")) {
                ins.setString(1, key);
                ins.executeUpdate();
            }
            Instant tat;
            try (PreparedStatement sel = c.prepareStatement("select tat from recipient_rate where key = ? for update")) {
                sel.setString(1, key);
                try (ResultSet r = sel.executeQuery()) {
                    r.next();
                    tat = r.getTimestamp(1).toInstant();
                }
            }
            Grant g = grant(tat, recipients, limits);
            if (g.messages() > 0) {
                try (PreparedStatement up = c.prepareStatement("update recipient_rate set tat = ? where key = ?")) {
                    up.setTimestamp(1, Timestamp.from(g.next()));
                    up.setString(2, key);
                    up.executeUpdate();
                }
            }
            return g;
        });
    }

    /** The GCRA step: messages go while their time has come; each moves the time on by its recipients. */
    static Grant grant(Instant tat, List<Integer> recipients, DestinationLimits limits) {
        Instant now = Instant.now();
        if (limits.recipients() == 0) {
            return new Grant(0, now.plus(Duration.ofMinutes(limits.perMinutes())));
        }
        Duration spacing = limits.spacing();
        // A turn taken a little late keeps the schedule (the next is due one spacing after the
        // turn, not after the late start), so claim latency does not add up; after a pause
        // longer than a spacing the schedule starts again from now, so no burst builds up.
        Instant t = tat == null || tat.isBefore(now.minus(spacing)) ? now : tat;
        int n = 0;
        while (n < recipients.size() && !t.isAfter(now)) {
            t = t.plus(spacing.multipliedBy(Math.max(1, recipients.get(n))));
            n++;
        }
        return new Grant(n, t);
    }
}
