package io.tlsgate.delivery.queue;

import io.tlsgate.core.smtp.Mailbox;

import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.platform.db.Jdbc;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * The durable queue in the {@code delivery} schema. {@link #enqueueAsync} completes only after
 * the message and all its recipients are committed: that is what lets the listener answer 250.
 */
@ApplicationScoped
public class MessageQueue {

    private static final Logger LOG = Logger.getLogger(MessageQueue.class);

    private final DataSource dataSource;
    private final DeliveryConfig config;

    MessageQueue(DataSource dataSource, DeliveryConfig config) {
        this.dataSource = dataSource;
        this.config = config;
    }

    /** At most this many messages share one commit. */
    static final int MAX_BATCH = 64;

    /** A message waiting for the next commit. */
    private record Pending(NewMessage message, CompletableFuture<Long> mid) {}

    private final LinkedBlockingQueue<Pending> pending = new LinkedBlockingQueue<>();
    private volatile boolean running;
    private Thread committer;

    @PostConstruct
    void start() {
        running = true;
        committer = new Thread(this::commitLoop, "queue-committer");
        committer.setDaemon(true);
        committer.start();
    }

    @PreDestroy
    void stop() {
        running = false;
        committer.interrupt();
        try {
            committer.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        failPending();
    }

    /**
     * Validates a message and queues it for the next commit: the future completes with its MID
     * once the message and all its recipients are committed (that is what lets the listener
     * answer 250), or fails with {@link QueueUnavailableException} (nothing is stored).
     *
     * <p>Group commit: one thread commits whatever arrived while the last commit ran, up to
     * {@link #MAX_BATCH} messages in one transaction (one WAL flush, one NOTIFY), so the cost
     * of a commit is shared by every message that waited for it. When a shared transaction
     * fails, each of its messages is tried alone, so one message's problem is not the others'.
     *
     * @throws IllegalArgumentException naming the bad field (nothing is stored)
     */
    public CompletableFuture<Long> enqueueAsync(NewMessage m) {
        validate(m);
        CompletableFuture<Long> mid = new CompletableFuture<>();
        if (!running) {
            mid.completeExceptionally(new QueueUnavailableException("delivery-service is stopping", null));
            return mid;
        }
        pending.add(new Pending(m, mid));
        if (!running) {
            failPending();
        }
        return mid;
    }

    /**
     * {@link #enqueueAsync}, waiting for the commit; returns the MID.
     *
     * @throws IllegalArgumentException naming the bad field (nothing is stored)
     * @throws QueueUnavailableException when the database cannot take it (nothing is stored)
     */
    public long enqueue(NewMessage m) {
        try {
            return enqueueAsync(m).join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof QueueUnavailableException q) {
                throw q;
            }
            throw new QueueUnavailableException("the queue did not take the message", e.getCause());
        }
    }

    /**
     * Stores a message (its content in memory) in the caller's transaction {@code c}: it is
     * queued when, and only when, that transaction commits. For the mail delivery-service makes
     * itself as part of a result (DSNs), so that the result and the notice commit together.
     *
     * @throws IllegalArgumentException naming the bad field (nothing is stored)
     */
    public long enqueueIn(Connection c, NewMessage m) throws SQLException {
        validate(m);
        if (m.data().bytes() == null) {
            throw new IllegalArgumentException("data: only content held in memory is stored in the caller's transaction");
        }
        return insert(c, List.of(new Pending(m, new CompletableFuture<>())), new ArrayList<>())[0];
    }

    private void commitLoop() {
        List<Pending> batch = new ArrayList<>(MAX_BATCH);
        while (running) {
            try {
                Pending first = pending.poll(1, TimeUnit.SECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                pending.drainTo(batch, MAX_BATCH - 1);
                commit(batch);
            } catch (InterruptedException e) {
                break;
            } catch (RuntimeException e) {
                LOG.error("queue committer: unexpected error", e);
                for (Pending p : batch) {
                    p.mid().completeExceptionally(new QueueUnavailableException("internal error: " + e, e));
                }
            } finally {
                batch.clear();
            }
        }
    }

    private void failPending() {
        Pending p;
        while ((p = pending.poll()) != null) {
            p.mid().completeExceptionally(new QueueUnavailableException("delivery-service is stopping", null));
        }
    }

    private void commit(List<Pending> batch) {
        long[] mids;
        try {
            mids = insert(batch);
        } catch (QueueUnavailableException e) {
            if (batch.size() == 1) {
                batch.get(0).mid().completeExceptionally(e);
            } else {
                for (Pending p : batch) {
                    commit(List.of(p));
                }
            }
            return;
        }
        for (int i = 0; i < batch.size(); i++) {
            LOG.infof("Start MID %d ICID %d", mids[i], batch.get(i).message().icid());
            batch.get(i).mid().complete(mids[i]);
        }
    }

    /** Stores messages and their recipients in one transaction; their MIDs in order. */
    private long[] insert(List<Pending> batch) {
        List<InputStream> streams = new ArrayList<>();
        try {
            return Jdbc.transaction(dataSource, c -> insert(c, batch, streams));
        } catch (UncheckedIOException e) {
            throw new QueueUnavailableException("the spooled message could not be read", e.getCause());
        } catch (IllegalStateException e) {
            throw new QueueUnavailableException("the queue database did not take the message", e.getCause());
        } finally {
            for (InputStream in : streams) {
                try {
                    in.close();
                } catch (IOException ignored) {
                    // read to the end or abandoned: nothing to keep
                }
            }
        }
    }

    private static long[] insert(Connection c, List<Pending> batch, List<InputStream> streams) throws SQLException {
        long[] mids = new long[batch.size()];
        try (PreparedStatement ps = c.prepareStatement("insert into message (mail_from, data, size, icid, listener, "
                + "tls_protocol, tls_cipher, tls_client_subject, tls_client_verified, tls_request) "
                + "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", new String[] {"mid"})) {
            for (Pending p : batch) {
                NewMessage m = p.message();
                ps.setString(1, m.mailFrom());
                byte[] bytes = m.data().bytes();
                if (bytes != null) {
                    ps.setBytes(2, bytes);
                } else {
                    // Streamed from the spool file to PostgreSQL: a large message is never in the heap whole.
                    InputStream data = open(m);
                    streams.add(data);
                    ps.setBinaryStream(2, data, (int) m.size());
                }
                ps.setInt(3, (int) m.size());
                ps.setLong(4, m.icid());
                ps.setString(5, m.listener());
                ps.setString(6, m.tls().protocol());
                ps.setString(7, m.tls().cipher());
                ps.setString(8, m.tls().clientSubject());
                ps.setBoolean(9, m.tls().clientVerified());
                ps.setString(10, m.tlsRequest().name());
                ps.addBatch();
            }
            ps.executeBatch();
            try (ResultSet r = ps.getGeneratedKeys()) {
                for (int i = 0; i < mids.length; i++) {
                    if (!r.next()) {
                        throw new SQLException("fewer MIDs returned than messages inserted");
                    }
                    mids[i] = r.getLong(1);
                }
            }
        }
        try (PreparedStatement ps = c.prepareStatement(
                "insert into recipient (mid, rid, address, domain) values (?, ?, ?, ?)")) {
            for (int i = 0; i < mids.length; i++) {
                List<String> recipients = batch.get(i).message().recipients();
                for (int rid = 0; rid < recipients.size(); rid++) {
                    String address = recipients.get(rid);
                    ps.setLong(1, mids[i]);
                    ps.setInt(2, rid);
                    ps.setString(3, address);
                    ps.setString(4, address.substring(address.lastIndexOf('@') + 1).toLowerCase(java.util.Locale.ROOT));
                    ps.addBatch();
                }
            }
            ps.executeBatch();
        }
        // Sent at commit to every replica's QueueSignal: new work is claimed at once, not at the next poll.
        try (java.sql.Statement st = c.createStatement()) {
            st.execute("notify " + QueueSignal.CHANNEL);
        }
        return mids;
    }

    private static InputStream open(NewMessage m) {
        try {
            return m.data().open();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Counts by state, the queued recipients per destination domain (most first, at most 100),
     * and one page of the recipients {@code f} selects, in (MID, RID) order.
     */
    public QueueSummary summary(QueueSummary.Filter f) {
        return Jdbc.snapshot(dataSource, c -> {
            Map<String, Long> messages = counts(c, "select state, count(*) from message group by state order by state");
            Map<String, Long> recipients = counts(c, "select state, count(*) from recipient group by state order by state");
            List<QueueSummary.Destination> byDomain = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("select domain, count(*), min(next_attempt_at) from recipient "
                    + "where state = 'QUEUED' group by domain order by count(*) desc, domain limit 100");
                    ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    byDomain.add(new QueueSummary.Destination(r.getString(1), r.getLong(2), r.getTimestamp(3).toInstant()));
                }
            }
            List<QueueSummary.Entry> page = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("select r.mid, r.rid, r.address, r.domain, r.state, m.mail_from, "
                    + "m.received_at, r.attempts, r.next_attempt_at, r.last_reply, r.redirect_host from recipient r "
                    + "join message m on m.mid = r.mid where (?::text is null or r.state = ?) and (?::text is null or r.domain = ?) "
                    + "and (?::timestamptz is null or m.received_at <= ?) "
                    + "and (?::text is null or strpos(lower(r.last_reply), lower(?)) > 0) "
                    + "and (?::bigint is null or (r.mid, r.rid) > (?, ?)) order by r.mid, r.rid limit ?")) {
                java.sql.Timestamp cutoff = f.olderThan() == null ? null
                        : java.sql.Timestamp.from(java.time.Instant.now().minus(f.olderThan()));
                int i = 1;
                for (Object v : new Object[] {f.state(), f.domain(), cutoff, f.lastError()}) {
                    ps.setObject(i++, v);
                    ps.setObject(i++, v);
                }
                ps.setObject(i++, f.afterMid());
                ps.setObject(i++, f.afterMid());
                ps.setObject(i++, f.afterRid() == null ? Integer.MAX_VALUE : f.afterRid());
                ps.setInt(i, f.limit() + 1);
                try (ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        page.add(new QueueSummary.Entry(r.getLong(1), r.getInt(2), r.getString(3), r.getString(4), r.getString(5),
                                r.getString(6), r.getTimestamp(7).toInstant(), r.getInt(8),
                                "QUEUED".equals(r.getString(5)) ? r.getTimestamp(9).toInstant() : null, r.getString(10),
                                r.getString(11)));
                    }
                }
            }
            String next = null;
            if (page.size() > f.limit()) {
                page.remove(page.size() - 1);
                QueueSummary.Entry last = page.get(page.size() - 1);
                next = last.mid() + ":" + last.rid();
            }
            return new QueueSummary(messages, recipients, byDomain, page, next);
        });
    }

    private static Map<String, Long> counts(Connection c, String sql) throws SQLException {
        Map<String, Long> out = new java.util.LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement(sql); ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                out.put(r.getString(1), r.getLong(2));
            }
        }
        return out;
    }

    /** What delivery needs of a message: the envelope sender, when it arrived, and the content. */
    public record Content(String mailFrom, java.time.Instant receivedAt, byte[] data) {}

    /** A stored message's size and what its sender asked of its transport. */
    public record Stored(long size, TlsRequest tlsRequest) {}

    /** The stored sizes and TLS requests of several messages in one query, by MID (a message that is gone is left out). */
    public Map<Long, Stored> stored(List<Long> mids) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("select mid, size, tls_request from message where mid = any(?)")) {
            ps.setArray(1, c.createArrayOf("bigint", mids.toArray()));
            Map<Long, Stored> out = new HashMap<>();
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    out.put(r.getLong(1), new Stored(r.getLong(2), TlsRequest.valueOf(r.getString(3))));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new QueueUnavailableException("could not read messages " + mids, e);
        }
    }

    /** The contents of several messages in one query, by MID (a message that is gone is left out). */
    public Map<Long, Content> contents(List<Long> mids) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("select mid, mail_from, received_at, data from message where mid = any(?)")) {
            ps.setArray(1, c.createArrayOf("bigint", mids.toArray()));
            Map<Long, Content> out = new HashMap<>();
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    out.put(r.getLong(1), new Content(r.getString(2), r.getTimestamp(3).toInstant(), r.getBytes(4)));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new QueueUnavailableException("could not read messages " + mids, e);
        }
    }

    /** A queued message and its recipients, without the content. */
    private static java.time.Instant instant(java.sql.Timestamp t) {
        return t == null ? null : t.toInstant();
    }

    public Optional<QueuedMessage> find(long mid) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement m = c.prepareStatement(
                        "select mid, mail_from, size, icid, listener, received_at, state, tls_request, finished_at, content_removed_at "
                                + "from message where mid = ?");
                PreparedStatement r = c.prepareStatement(
                        "select rid, address, state, attempts, next_attempt_at, last_reply from recipient where mid = ? "
                                + "order by rid")) {
            m.setLong(1, mid);
            r.setLong(1, mid);
            try (ResultSet mr = m.executeQuery()) {
                if (!mr.next()) {
                    return Optional.empty();
                }
                List<QueuedMessage.Recipient> rcpts = new ArrayList<>();
                try (ResultSet rr = r.executeQuery()) {
                    while (rr.next()) {
                        rcpts.add(new QueuedMessage.Recipient(rr.getInt(1), rr.getString(2), rr.getString(3), rr.getInt(4),
                                "QUEUED".equals(rr.getString(3)) ? rr.getTimestamp(5).toInstant() : null, rr.getString(6)));
                    }
                }
                return Optional.of(new QueuedMessage(mr.getLong("mid"), mr.getString("mail_from"), mr.getInt("size"),
                        mr.getLong("icid"), mr.getString("listener"), mr.getTimestamp("received_at").toInstant(),
                        mr.getString("state"), TlsRequest.valueOf(mr.getString("tls_request")), rcpts, List.of(),
                        instant(mr.getTimestamp("finished_at")), instant(mr.getTimestamp("content_removed_at"))));
            }
        } catch (SQLException e) {
            throw new QueueUnavailableException("could not read the queue", e);
        }
    }

    /** An address for an error message: controls escaped, at most 80 characters. */
    private static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(80).forEach(c -> {
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\x%02x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }

    private void validate(NewMessage m) {
        if (m.mailFrom() == null) {
            throw new IllegalArgumentException("mail_from: missing");
        }
        // The SMTP client writes these into command lines: the listener checked them, and so
        // does the queue, for every caller of Enqueue.
        String senderProblem = m.mailFrom().isEmpty() ? null : Mailbox.problem(m.mailFrom());
        if (senderProblem != null) {
            throw new IllegalArgumentException("mail_from: '" + printable(m.mailFrom()) + "': " + senderProblem);
        }
        if (m.recipients().isEmpty()) {
            throw new IllegalArgumentException("rcpt_to: at least one recipient is required");
        }
        if (m.recipients().size() > config.maxRecipients()) {
            throw new IllegalArgumentException("rcpt_to: more than " + config.maxRecipients() + " recipients");
        }
        for (String r : m.recipients()) {
            String problem = Mailbox.problem(r);
            if (problem != null) {
                throw new IllegalArgumentException("rcpt_to: '" + printable(r) + "': " + problem);
            }
        }
        if (m.size() > config.maxMessageSize()) {
            throw new IllegalArgumentException("data: larger than " + config.maxMessageSize() + " bytes");
        }
    }
}
