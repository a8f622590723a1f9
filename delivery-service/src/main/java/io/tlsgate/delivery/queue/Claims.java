package io.tlsgate.delivery.queue;

import io.tlsgate.platform.db.Jdbc;
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

    /**
     * Recipients of one message at one domain, delivered together in one transaction.
     *
     * @param redirect the host an operator redirected them to (queue action), null: the domain's own hosts
     */
    public record Work(long mid, String domain, List<Integer> rids, List<String> addresses, int attempts, String redirect) {

        public Work(long mid, String domain, List<Integer> rids, List<String> addresses, int attempts) {
            this(mid, domain, rids, addresses, attempts, null);
        }
    }

    private final DataSource dataSource;

    /** Work in the transaction that records a batch. */
    @FunctionalInterface
    public interface Step {
        void run(Connection c) throws SQLException;
    }

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
                + "where r.mid = due.mid and r.rid = due.rid returning r.mid, r.rid, r.address, r.domain, r.attempts, r.redirect_host";
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("text", skip.toArray()));
            ps.setInt(2, limit);
            ps.setDouble(3, lease.toMillis() / 1000.0);
            ps.setString(4, worker);
            Map<String, List<Object[]>> groups = new LinkedHashMap<>();
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    groups.computeIfAbsent(r.getLong(1) + " " + r.getString(4) + " " + r.getString(6), k -> new ArrayList<>())
                            .add(new Object[] {r.getLong(1), r.getInt(2), r.getString(3), r.getString(4), r.getInt(5), r.getString(6)});
                }
            }
            List<Work> out = new ArrayList<>();
            for (List<Object[]> g : groups.values()) {
                out.add(new Work((Long) g.get(0)[0], (String) g.get(0)[3], g.stream().map(x -> (Integer) x[1]).toList(),
                        g.stream().map(x -> (String) x[2]).toList(), g.stream().mapToInt(x -> (Integer) x[4]).max().orElse(0),
                        (String) g.get(0)[5]));
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
        return commit(worker, new Batch().finish(mid, rids, result, reply));
    }

    /** Puts recipients this worker holds back in the queue until {@code next}; returns how many it still held. */
    public int defer(String worker, long mid, List<Integer> rids, Instant next, String reply) {
        return commit(worker, new Batch().defer(mid, rids, next, reply));
    }

    /**
     * Results for recipients of several messages and the attempts that led to them, recorded
     * together by {@link #commit} in one transaction, and what to do once they are (mail-log
     * lines, DSNs): one commit per piece of messages rather than several per message.
     */
    public static final class Batch {
        private record Change(long mid, List<Integer> rids, String state, String reply, Instant next, boolean counts) {}

        private record Tried(long mid, Attempts.Attempt attempt) {}

        private final List<Change> changes = new ArrayList<>();
        private final List<Tried> attempts = new ArrayList<>();
        private final List<Runnable> after = new ArrayList<>();
        private final List<Step> steps = new ArrayList<>();

        public Batch finish(long mid, List<Integer> rids, Result result, String reply) {
            changes.add(new Change(mid, List.copyOf(rids), result.name(), reply, null, true));
            return this;
        }

        public Batch defer(long mid, List<Integer> rids, Instant next, String reply) {
            changes.add(new Change(mid, List.copyOf(rids), null, reply, next, true));
            return this;
        }

        /** Back until {@code next} with no attempt counted. */
        public Batch postpone(long mid, List<Integer> rids, Instant next, String reply) {
            changes.add(new Change(mid, List.copyOf(rids), null, reply, next, false));
            return this;
        }

        /** SQL about these results to run in the same transaction (their events, alert windows). */
        public Batch within(Step step) {
            steps.add(step);
            return this;
        }

        public Batch attempt(long mid, Attempts.Attempt a) {
            attempts.add(new Tried(mid, a));
            return this;
        }

        /** Runs once the batch is committed (not if the commit fails). */
        public Batch then(Runnable r) {
            after.add(r);
            return this;
        }
    }

    /**
     * Records a batch in one transaction: each change only for recipients this worker still
     * holds (fencing), messages with no recipient left queued DONE; then runs its follow-ups.
     * Returns how many recipients were still held.
     */
    public int commit(String worker, Batch b) {
        if (b.changes.isEmpty() && b.attempts.isEmpty() && b.steps.isEmpty()) {
            b.after.forEach(Runnable::run);
            return 0;
        }
        Long[] mids = b.changes.stream().map(Batch.Change::mid).distinct().sorted().toArray(Long[]::new);
        String fence = " lease_until = null, leased_by = null where mid = ? and rid = any(?) and leased_by = ? "
                + "and lease_until >= now() and state = 'QUEUED'";
        int n;
        try {
            n = Jdbc.transaction(dataSource, c -> {
                int held = 0;
                // Results for one message are recorded one at a time (in mid order, so batches
                // never deadlock): without this lock two workers finishing different domains of
                // it concurrently would each still see the other's recipients queued, and the
                // message would never become DONE.
                try (PreparedStatement lock = c.prepareStatement("select 1 from message where mid = any(?) order by mid for update")) {
                    lock.setArray(1, c.createArrayOf("bigint", mids));
                    lock.executeQuery().close();
                }
                Attempts.insert(c, b.attempts.stream().map(t -> Map.entry(t.mid(), t.attempt())).toList());
                for (Step s : b.steps) {
                    s.run(c);
                }
                try (PreparedStatement finish = c.prepareStatement("update recipient set state = ?, last_reply = ?, "
                        + "attempts = attempts + 1," + fence);
                        PreparedStatement defer = c.prepareStatement("update recipient set next_attempt_at = ?, last_reply = ?, "
                                + "attempts = attempts + 1," + fence);
                        PreparedStatement postpone = c.prepareStatement("update recipient set next_attempt_at = ?, "
                                + "last_reply = ?," + fence)) {
                    for (Batch.Change ch : b.changes) {
                        PreparedStatement ps = ch.state() != null ? finish : ch.counts() ? defer : postpone;
                        if (ch.state() != null) {
                            ps.setString(1, ch.state());
                        } else {
                            ps.setTimestamp(1, Timestamp.from(ch.next()));
                        }
                        ps.setString(2, ch.reply());
                        ps.setLong(3, ch.mid());
                        ps.setArray(4, c.createArrayOf("integer", ch.rids().toArray()));
                        ps.setString(5, worker);
                        ps.addBatch();
                    }
                    for (PreparedStatement ps : List.of(finish, defer, postpone)) {
                        for (int k : ps.executeBatch()) {
                            held += Math.max(0, k);
                        }
                    }
                }
                try (PreparedStatement done = c.prepareStatement("update message m set state = 'DONE' where m.mid = any(?) "
                        + "and m.state = 'QUEUED' and not exists (select 1 from recipient r where r.mid = m.mid "
                        + "and r.state = 'QUEUED')")) {
                    done.setArray(1, c.createArrayOf("bigint", mids));
                    done.executeUpdate();
                }
                return held;
            });
        } catch (IllegalStateException e) {
            throw new QueueUnavailableException("could not record the delivery result", e);
        }
        b.after.forEach(Runnable::run);
        return n;
    }
}
