package io.tlsgate.delivery.queue;

import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;

/**
 * Claims due work for delivery, correct with several replicas: due recipients are taken with
 * {@code FOR UPDATE SKIP LOCKED} and leased to one worker; the lease runs out if the worker
 * dies, so nothing committed is ever stranded; results count only from the lease holder, so a
 * worker that lost its lease cannot overwrite the newer claim (its in-flight delivery may
 * have happened twice: duplicates, never losses).
 */
@ApplicationScoped
public class Claims {

    /** Recipients of one message at one domain, delivered together in one transaction. */
    public record Work(long mid, String domain, List<Integer> rids, List<String> addresses, int attempts) {}

    private final DataSource dataSource;

    Claims(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Leases up to {@code limit} due recipients to {@code worker}, grouped by message and domain. */
    public List<Work> claim(String worker, int limit, Duration lease) {
        return claim(worker, limit, lease, java.util.Set.of());
    }

    /**
     * Leases up to {@code limit} due recipients to {@code worker}, grouped by message and
     * domain, leaving out the domains in {@code skip} (their limits are reached just now).
     */
    public List<Work> claim(String worker, int limit, Duration lease, java.util.Set<String> skip) {
        String sql = "with due as (select mid, rid from recipient where state = 'QUEUED' and next_attempt_at <= now() "
                + "and (lease_until is null or lease_until < now()) and domain <> all(?) order by next_attempt_at, mid, rid limit ? "
                + "for update skip locked) "
                + "update recipient r set lease_until = now() + make_interval(secs => ?), leased_by = ? from due "
                + "where r.mid = due.mid and r.rid = due.rid returning r.mid, r.rid, r.address, r.domain, r.attempts";
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("text", skip.toArray()));
            ps.setInt(2, limit);
            ps.setDouble(3, lease.toMillis() / 1000.0);
            ps.setString(4, worker);
            Map<String, List<Object[]>> groups = new LinkedHashMap<>();
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    groups.computeIfAbsent(r.getLong(1) + " " + r.getString(4), k -> new ArrayList<>())
                            .add(new Object[] {r.getLong(1), r.getInt(2), r.getString(3), r.getString(4), r.getInt(5)});
                }
            }
            List<Work> out = new ArrayList<>();
            for (List<Object[]> g : groups.values()) {
                out.add(new Work((Long) g.get(0)[0], (String) g.get(0)[3], g.stream().map(x -> (Integer) x[1]).toList(),
                        g.stream().map(x -> (String) x[2]).toList(), g.stream().mapToInt(x -> (Integer) x[4]).max().orElse(0)));
            }
            return out;
        } catch (SQLException e) {
            throw new QueueUnavailableException("could not claim work", e);
        }
    }

    /**
     * Extends this worker's unexpired leases on the given messages' queued recipients, so that
     * work taking longer than one lease (a big message, a slow MX) is not claimed again by
     * another replica meanwhile; returns how many leases were extended. Work that is no longer
     * renewed (its worker died or gave it up) comes back when the lease runs out.
     */
    public int renew(String worker, java.util.Collection<Long> mids, Duration lease) {
        if (mids.isEmpty()) {
            return 0;
        }
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("update recipient set lease_until = now() + make_interval(secs => ?) "
                        + "where leased_by = ? and mid = any(?) and state = 'QUEUED' and lease_until >= now()")) {
            ps.setDouble(1, lease.toMillis() / 1000.0);
            ps.setString(2, worker);
            ps.setArray(3, c.createArrayOf("bigint", mids.toArray()));
            return ps.executeUpdate();
        } catch (SQLException e) {
            throw new QueueUnavailableException("could not renew leases", e);
        }
    }

    /** Final states per recipient. */
    public enum Result { DELIVERED, BOUNCED }

    /**
     * Records a final result for recipients this worker holds; returns how many it still held.
     * The message is DONE when no recipient is left queued.
     */
    public int finish(String worker, long mid, List<Integer> rids, Result result, String reply) {
        return complete(worker, mid, rids, "state = ?, last_reply = ?, attempts = attempts + 1", result.name(), reply, null);
    }

    /** Puts recipients this worker holds back in the queue until {@code next}; returns how many it still held. */
    public int defer(String worker, long mid, List<Integer> rids, Instant next, String reply) {
        return complete(worker, mid, rids, "next_attempt_at = ?, last_reply = ?, attempts = attempts + 1", null, reply, next);
    }

    /**
     * Puts recipients this worker holds back until {@code next} without counting an attempt
     * (a destination limit held them back; nothing was tried); returns how many it still held.
     */
    public int postpone(String worker, long mid, List<Integer> rids, Instant next, String reply) {
        return complete(worker, mid, rids, "next_attempt_at = ?, last_reply = ?", null, reply, next);
    }

    private int complete(String worker, long mid, List<Integer> rids, String set, String state, String reply, Instant next) {
        String sql = "update recipient set " + set + ", lease_until = null, leased_by = null "
                + "where mid = ? and rid = any(?) and leased_by = ? and lease_until >= now() and state = 'QUEUED'";
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            // Results for one message are recorded one at a time: without this lock two workers
            // finishing different domains of it concurrently would each still see the other's
            // recipients queued, and the message would never become DONE.
            try (PreparedStatement lock = c.prepareStatement("select 1 from message where mid = ? for update")) {
                lock.setLong(1, mid);
                lock.executeQuery().close();
            }
            int n;
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                int i = 1;
                if (state != null) {
                    ps.setString(i++, state);
                } else {
                    ps.setTimestamp(i++, Timestamp.from(next));
                }
                ps.setString(i++, reply);
                ps.setLong(i++, mid);
                ps.setArray(i++, c.createArrayOf("integer", rids.toArray()));
                ps.setString(i, worker);
                n = ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("update message set state = 'DONE' where mid = ? and state = 'QUEUED' "
                    + "and not exists (select 1 from recipient where mid = ? and state = 'QUEUED')")) {
                ps.setLong(1, mid);
                ps.setLong(2, mid);
                ps.executeUpdate();
            }
            c.commit();
            return n;
        } catch (SQLException e) {
            throw new QueueUnavailableException("could not record the delivery result", e);
        }
    }
}
