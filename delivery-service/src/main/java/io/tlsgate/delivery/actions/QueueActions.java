package io.tlsgate.delivery.actions;

import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.NewMessage;
import io.tlsgate.delivery.schedule.Dsn;
import io.tlsgate.delivery.schedule.Scheduler;
import io.tlsgate.platform.db.Jdbc;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * What an operator can do with queued mail: retry now, delete (silently or with a DSN to the
 * sender), bounce (a DSN), or redirect to another host; for one message, some of its
 * recipients, or every queued recipient of a destination domain. Each action changes only
 * recipients still queued, in one transaction with its audit record; a recipient whose
 * delivery is in progress right now is counted as in flight (that attempt may still deliver
 * it: its result is then not recorded, as for a lost lease).
 */
@ApplicationScoped
public class QueueActions {

    private static final Logger MAILLOG = Logger.getLogger("io.tlsgate.maillog");
    private static final int MAX_LISTED = 1000;

    public enum Action { RETRY, DELETE, BOUNCE, REDIRECT }

    /** What an action applies to: one message (all its queued recipients, or those of {@code rids}), or a domain. */
    public record Selector(Long mid, List<Integer> rids, String domain) {
        String describe() {
            return domain != null ? "domain " + domain : "MID " + mid + (rids == null || rids.isEmpty() ? "" : " RID " + rids);
        }
    }

    /**
     * One action as asked.
     *
     * @param dsn for DELETE: tell the sender (a failure DSN); BOUNCE always does
     * @param host for REDIRECT: {@code host}, {@code host:port}, {@code [address]} or {@code [address]:port}
     */
    public record Request(Action action, Selector selector, boolean dsn, String host, String comment, String principal) {}

    /**
     * What it did.
     *
     * @param recipients how many queued recipients it changed
     * @param inFlight how many of them were being delivered at that moment
     * @param mids the messages it touched (at most 1000 listed)
     */
    public record Result(long id, String action, String selector, int recipients, int messages, int inFlight, List<Long> mids) {}

    /** One audit record, as {@code GET /api/v1/queue/actions} lists it. */
    public record Entry(long id, Instant at, String principal, String action, String selector, String detail, String comment,
            int recipients, int messages) {}

    private record Row(long mid, int rid, String address, boolean inFlight) {}

    private final DataSource dataSource;
    private final MessageQueue queue;
    private final Scheduler scheduler;

    QueueActions(DataSource dataSource, MessageQueue queue, Scheduler scheduler) {
        this.dataSource = dataSource;
        this.queue = queue;
        this.scheduler = scheduler;
    }

    public Result apply(Request r) {
        String detail = switch (r.action()) {
            case REDIRECT -> "to " + r.host();
            case DELETE -> r.dsn() ? "with DSN" : "silently";
            case BOUNCE -> "with DSN";
            case RETRY -> null;
        };
        Map<Long, String> senders = new LinkedHashMap<>();
        Map<Long, long[]> dsns = new LinkedHashMap<>();
        Object[] done = Jdbc.transaction(dataSource, c -> {
            lockMessages(c, r.selector());
            List<Row> rows = change(c, r);
            List<Long> mids = rows.stream().map(Row::mid).distinct().toList();
            if (r.action() == Action.DELETE || r.action() == Action.BOUNCE) {
                try (PreparedStatement ps = c.prepareStatement("update message m set state = 'DONE' where m.mid = any(?) "
                        + "and m.state = 'QUEUED' and not exists (select 1 from recipient x where x.mid = m.mid and x.state = 'QUEUED')")) {
                    ps.setArray(1, c.createArrayOf("bigint", mids.toArray()));
                    ps.executeUpdate();
                }
                if (r.dsn() || r.action() == Action.BOUNCE) {
                    try (PreparedStatement ps = c.prepareStatement("select mid, mail_from from message where mid = any(?)")) {
                        ps.setArray(1, c.createArrayOf("bigint", mids.toArray()));
                        try (ResultSet rs = ps.executeQuery()) {
                            while (rs.next()) {
                                senders.put(rs.getLong(1), rs.getString(2));
                            }
                        }
                    }
                    // The DSNs commit with the action: a crash loses both or neither.
                    String reply = r.action() == Action.BOUNCE ? "550 5.0.0 bounced by the gateway's operator"
                            : "550 5.0.0 deleted from the queue by the gateway's operator";
                    Map<Long, List<Row>> perMessage = new LinkedHashMap<>();
                    rows.forEach(x -> perMessage.computeIfAbsent(x.mid(), k -> new ArrayList<>()).add(x));
                    for (Map.Entry<Long, List<Row>> e : perMessage.entrySet()) {
                        long dsnMid = dsn(c, e.getKey(), senders.get(e.getKey()), e.getValue(), reply);
                        if (dsnMid != 0) {
                            dsns.put(e.getKey(), new long[] {dsnMid, e.getValue().size()});
                        }
                    }
                }
            } else if (!rows.isEmpty()) {
                try (PreparedStatement ps = c.prepareStatement("select pg_notify('tlsgate_queue', '')")) {
                    ps.executeQuery().close();
                }
            }
            long id;
            try (PreparedStatement ps = c.prepareStatement("insert into queue_action (principal, action, selector, detail, comment, "
                    + "recipients, messages) values (?, ?, ?, ?, ?, ?, ?) returning id")) {
                ps.setString(1, r.principal());
                ps.setString(2, r.action().name().toLowerCase(Locale.ROOT));
                ps.setString(3, r.selector().describe());
                ps.setString(4, detail);
                ps.setString(5, r.comment());
                ps.setInt(6, rows.size());
                ps.setInt(7, mids.size());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    id = rs.getLong(1);
                }
            }
            return new Object[] {id, rows};
        });
        long id = (Long) done[0];
        @SuppressWarnings("unchecked")
        List<Row> rows = (List<Row>) done[1];
        Map<Long, List<Row>> byMid = new LinkedHashMap<>();
        rows.forEach(x -> byMid.computeIfAbsent(x.mid(), k -> new ArrayList<>()).add(x));
        String who = r.principal() + (r.comment() == null ? "" : " (" + r.comment() + ")");
        byMid.forEach((mid, rs) -> {
            List<Integer> rids = rs.stream().map(Row::rid).toList();
            switch (r.action()) {
                case RETRY -> MAILLOG.infof("MID %d to RID %s: retry now, asked by %s", mid, rids, who);
                case REDIRECT -> MAILLOG.infof("MID %d to RID %s: redirected to %s by %s", mid, rids, r.host(), who);
                case DELETE -> MAILLOG.infof("Deleted: MID %d to RID %s by %s%s", mid, rids, who, r.dsn() ? ", DSN to the sender" : "");
                case BOUNCE -> rids.forEach(rid -> MAILLOG.infof("Bounced: DCID 0 MID %d to RID [%d] - 5.0.0 - bounced by %s", mid,
                        rid, who));
            }
        });
        dsns.forEach((mid, d) -> {
            MAILLOG.infof("Start MID %d ICID 0", d[0]);
            MAILLOG.infof("MID %d DSN for MID %d to %d recipient(s)", d[0], mid, d[1]);
        });
        int inFlight = (int) rows.stream().filter(Row::inFlight).count();
        return new Result(id, r.action().name().toLowerCase(Locale.ROOT), r.selector().describe(), rows.size(), byMid.size(), inFlight,
                byMid.keySet().stream().limit(MAX_LISTED).toList());
    }

    /**
     * Locks the messages the action may touch, in MID order, as a delivery's result does
     * (Claims.commit): without it an action and a worker finishing another domain of the same
     * message could each still see the other's recipients queued (the message never DONE), or
     * lock a recipient and its message in opposite orders (a deadlock).
     */
    private static void lockMessages(Connection c, Selector s) throws SQLException {
        String sql = s.domain() != null
                ? "select 1 from message where mid in (select mid from recipient where state = 'QUEUED' and domain = ?) "
                        + "order by mid for update"
                : "select 1 from message where mid = ? for update";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (s.domain() != null) {
                ps.setString(1, s.domain());
            } else {
                ps.setLong(1, s.mid());
            }
            ps.executeQuery().close();
        }
    }

    /** The recipients the action changes, changed. */
    private static List<Row> change(Connection c, Request r) throws SQLException {
        Selector s = r.selector();
        String where = s.domain() != null ? "x.state = 'QUEUED' and x.domain = ?"
                : "x.state = 'QUEUED' and x.mid = ?" + (s.rids() == null || s.rids().isEmpty() ? "" : " and x.rid = any(?)");
        String set = switch (r.action()) {
            case RETRY -> "next_attempt_at = now()";
            case REDIRECT -> "redirect_host = ?, next_attempt_at = now()";
            case DELETE -> "state = 'DELETED', last_reply = ?, lease_until = null, leased_by = null";
            case BOUNCE -> "state = 'BOUNCED', last_reply = ?, lease_until = null, leased_by = null";
        };
        // in flight: leased to a worker now (the value before this update, hence the self-join)
        String sql = "update recipient x set " + set + " from recipient old where old.mid = x.mid and old.rid = x.rid and "
                + where + " returning x.mid, x.rid, x.address, old.lease_until is not null and old.lease_until >= now()";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            int i = 1;
            switch (r.action()) {
                case REDIRECT -> ps.setString(i++, r.host());
                case DELETE -> ps.setString(i++, "550 5.0.0 deleted from the queue by " + r.principal());
                case BOUNCE -> ps.setString(i++, "550 5.0.0 bounced by " + r.principal());
                default -> { }
            }
            if (s.domain() != null) {
                ps.setString(i, s.domain());
            } else {
                ps.setLong(i++, s.mid());
                if (s.rids() != null && !s.rids().isEmpty()) {
                    ps.setArray(i, c.createArrayOf("integer", s.rids().toArray()));
                }
            }
            List<Row> rows = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new Row(rs.getLong(1), rs.getInt(2), rs.getString(3), rs.getBoolean(4)));
                }
            }
            rows.sort(java.util.Comparator.comparingLong(Row::mid).thenComparingInt(Row::rid));
            return rows;
        }
    }

    /**
     * A failure DSN to the sender, queued in the action's transaction {@code c}; its MID, or 0
     * when there is none (the null sender: never a bounce of a bounce).
     */
    private long dsn(java.sql.Connection c, long mid, String sender, List<Row> rows, String reply) throws java.sql.SQLException {
        if (sender == null || sender.isEmpty()) {
            return 0;
        }
        List<Dsn.Failed> failed = rows.stream().map(x -> new Dsn.Failed(x.address(), "5.0.0", reply, null)).toList();
        byte[] dsn = Dsn.build(scheduler.heloName(), sender, mid, failed, Instant.now().atZone(ZoneOffset.UTC));
        try {
            return queue.enqueueIn(c, new NewMessage("", List.of(sender), NewMessage.Content.of(dsn), dsn.length, 0, null,
                    NewMessage.TlsFacts.NONE));
        } catch (IllegalArgumentException e) {
            MAILLOG.warnf("MID %d: no DSN could be queued for %s: %s", mid, sender, e.getMessage());
            return 0;
        }
    }

    /** The audit records, newest first. */
    public List<Entry> history(int limit, Long before) {
        return Jdbc.snapshot(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("select id, at, principal, action, selector, detail, comment, recipients, "
                    + "messages from queue_action where (?::bigint is null or id < ?) order by id desc limit ?")) {
                ps.setObject(1, before);
                ps.setObject(2, before);
                ps.setInt(3, limit);
                List<Entry> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new Entry(rs.getLong(1), rs.getTimestamp(2).toInstant(), rs.getString(3), rs.getString(4),
                                rs.getString(5), rs.getString(6), rs.getString(7), rs.getInt(8), rs.getInt(9)));
                    }
                }
                return out;
            }
        });
    }
}
