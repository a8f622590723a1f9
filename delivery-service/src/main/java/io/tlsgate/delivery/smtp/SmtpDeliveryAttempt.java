package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.Verification;
import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.core.tls.CertificateIdentity;
import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.tls.PeerTrust;
import io.tlsgate.platform.tls.TlsEngine;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.KeyManagerFactory;

/**
 * One delivery attempt to one host over SMTP, with STARTTLS exactly per the mode
 * ({@link OutboundTlsDecision}) and, in the verify modes, the certificate checked against the
 * trust anchors and the mode's identity rule ({@link CertificateIdentity}). The connection
 * runs on a Vert.x event loop (Netty; no thread per connection, STARTTLS by upgrading the
 * socket); {@link #start} is asynchronous, {@link #run} waits for it from a worker thread.
 * Writes the mail-log lines of docs/delivery.md ("Mail log") for its DCID.
 *
 * <p>This class holds the attempt's API; the phases are classes of their own: {@link Connector}
 * (an idle connection from the {@link Pool} or a new one through the {@link Gate}),
 * {@link Session} (a connection over its uses, its results), {@link SessionIo} (replies,
 * timers, deadline), {@link TlsNegotiation} (EHLO, STARTTLS, handshake), {@link CertificateCheck},
 * {@link MailTransactions} (MAIL, RCPT, DATA, content) and {@link MailLog}.
 */
public final class SmtpDeliveryAttempt {

    /** Where to deliver and under which rules. */
    public record Target(String host, int port, String connectedName, String recipientDomain, List<String> mxHosts,
            String routeHost, OutboundTlsMode mode, PeerTrust trust, String heloName,
            KeyManagerFactory clientKey, boolean mxNameOnly, DaneRule dane, boolean requireTls) {

        /** A target without DANE. */
        public Target(String host, int port, String connectedName, String recipientDomain, List<String> mxHosts,
                String routeHost, OutboundTlsMode mode, PeerTrust trust, String heloName, KeyManagerFactory clientKey,
                boolean mxNameOnly) {
            this(host, port, connectedName, recipientDomain, mxHosts, routeHost, mode, trust, heloName, clientKey, mxNameOnly,
                    null, false);
        }

        /** A target whose certificate is checked by its mode's identity rules. */
        public Target(String host, int port, String connectedName, String recipientDomain, List<String> mxHosts,
                String routeHost, OutboundTlsMode mode, PeerTrust trust, String heloName, KeyManagerFactory clientKey) {
            this(host, port, connectedName, recipientDomain, mxHosts, routeHost, mode, trust, heloName, clientKey, false);
        }
    }

    /**
     * A message for one domain.
     *
     * @param rids the recipients' indexes in the message, for the log ({@code RID [0, 2]})
     */
    public record Message(long mid, List<Integer> rids, String mailFrom, List<String> rcptTo, byte[] data) {

        public Message {
            if (rids.size() != rcptTo.size()) {
                throw new IllegalArgumentException("one RID per recipient");
            }
        }
    }

    /**
     * One message's transaction: per-recipient replies and the reply to the end of its content
     * (or DATA's refusal; null when no recipient was accepted).
     */
    public record Transaction(long mid, List<String> rcptReplies, String dataReply) {

        /** Only a 250 to the end of the content: DATA's own reply is never one (it is 354 or a refusal). */
        public boolean delivered() {
            return dataReply != null && dataReply.startsWith("250");
        }
    }

    /**
     * What happened on one connection: the TLS outcome ({@code reason}: the mail-log text of a
     * TLS failure), the transactions of the messages that got one, in order, {@code error}
     * when the connection broke after at least one of them (the rest were not sent on it), the
     * mail-log lines, the connection's DCID, and whether it was an idle connection taken from
     * the {@link Pool} (its TLS was decided, logged and published on its first use).
     */
    public record Result(OutboundTlsDecision.Action action, boolean encrypted, String protocol, String cipher,
            Verification verification, TlsResultType resultType, String reason, boolean alert, List<Transaction> transactions,
            String error, List<String> log, long dcid, boolean reused) {

        /** The same connection facts with other transactions (one message's share of a connection). */
        public Result with(List<Transaction> only) {
            return new Result(action, encrypted, protocol, cipher, verification, resultType, reason, alert, only, error, log,
                    dcid, reused);
        }

        /** The first message's recipient replies: the message's, in a one-message attempt. */
        public List<String> rcptReplies() {
            return transactions.isEmpty() ? List.of() : transactions.get(0).rcptReplies();
        }

        /** The first message's reply to the end of its content (null when none). */
        public String dataReply() {
            return transactions.isEmpty() ? null : transactions.get(0).dataReply();
        }

        /** Whether the first message was delivered. */
        public boolean delivered() {
            return !transactions.isEmpty() && transactions.get(0).delivered();
        }

        /** The transaction of message {@code mid}, if it got one. */
        public Optional<Transaction> transaction(long mid) {
            return transactions.stream().filter(x -> x.mid() == mid).findFirst();
        }
    }

    /**
     * How long to wait for each step (RFC 5321 §4.5.3.2), and the moment the attempt is cut
     * off whatever it is doing ({@code deadline}, null for none: the whole domain's delivery
     * has one, so a tarpitting host cannot hold a worker for long).
     */
    public record Timeouts(Duration connect, Duration reply, Duration dataEnd, Duration handshake, Instant deadline) {

        /** RFC 5321's minimums: 5 minutes per reply, 10 for the end of DATA; no deadline. */
        public static final Timeouts RFC_5321 = new Timeouts(Duration.ofSeconds(10), Duration.ofMinutes(5),
                Duration.ofMinutes(10), Duration.ofSeconds(60), null);

        public Timeouts until(Instant deadline) {
            return new Timeouts(connect, reply, dataEnd, handshake, deadline);
        }
    }

    private final Connector connector;

    /**
     * Admits new connections: a permit per connection, released once when its socket closes
     * (after its last use, idle spell included) or when it could not be made.
     */
    @FunctionalInterface
    public interface Gate {
        /** Opens every connection at once. */
        Gate OPEN = t -> Future.succeededFuture(() -> { });

        /** A permit for one more connection to {@code t}, or a future failed with {@link LimitReached}. */
        Future<Runnable> admit(Target t);
    }

    /** No connection was made: the destination's concurrency limit is reached. */
    public static final class LimitReached extends IOException {
        public LimitReached(String message) {
            super(message);
        }
    }

    public SmtpDeliveryAttempt(Vertx vertx, long dcid) {
        this(vertx, dcid, Timeouts.RFC_5321);
    }

    public SmtpDeliveryAttempt(Vertx vertx, long dcid, Timeouts timeouts) {
        this(vertx, dcid, timeouts, null, Integer.MAX_VALUE);
    }

    /**
     * With {@code pool}: an idle connection to the same target that may still carry the
     * messages is used first, and this one is kept there afterwards while it has carried
     * fewer than {@code maxPerConnection} messages in all.
     */
    public SmtpDeliveryAttempt(Vertx vertx, long dcid, Timeouts timeouts, Pool pool, int maxPerConnection) {
        this(vertx, dcid, timeouts, pool, maxPerConnection, Gate.OPEN);
    }

    /**
     * With a {@code gate} that admits each new connection (an idle one from the pool needs no new
     * permit); its connections are made with a client of their own.
     */
    public SmtpDeliveryAttempt(Vertx vertx, long dcid, Timeouts timeouts, Pool pool, int maxPerConnection, Gate gate) {
        this(vertx, dcid, timeouts, pool, maxPerConnection, gate,
                new TlsClients(vertx, TlsEngine.preferred(), timeouts.connect(), timeouts.handshake(), false));
    }

    /** With the shared {@code clients}, whose TLS sessions later connections resume. */
    SmtpDeliveryAttempt(Vertx vertx, long dcid, Timeouts timeouts, Pool pool, int maxPerConnection, Gate gate,
            TlsClients clients) {
        this.connector = new Connector(vertx, dcid, timeouts, pool, maxPerConnection, gate, clients);
    }

    /**
     * Idle connections kept a short while after their messages (Postfix's connection cache):
     * the next messages for the same target (host, port, domain, TLS rules, client key) go on
     * one of them after an RSET instead of a new connection and handshake. A connection that
     * is idle too long says QUIT; one the server closes or writes to while idle is dropped.
     */
    public static final class Pool {
        final long idleMillis;
        private final int perTarget;
        private final Map<Target, Deque<Session>> idle = new ConcurrentHashMap<>();

        public Pool(Duration idle, int perTarget) {
            this.idleMillis = idle.toMillis();
            this.perTarget = perTarget;
        }

        /** An idle connection to {@code t} that may carry {@code n} more messages within {@code max} in all. */
        Session take(Target t, int n, int max) {
            Deque<Session> q = idle.get(t);
            if (q == null) {
                return null;
            }
            for (Session s : q) {
                if (s.sent() + n <= max && q.remove(s)) {
                    return s;
                }
            }
            return null;
        }

        boolean put(Target t, Session s) {
            if (idleMillis <= 0) {
                return false;
            }
            Deque<Session> q = idle.computeIfAbsent(t, k -> new ConcurrentLinkedDeque<>());
            if (q.size() >= perTarget) {
                return false;
            }
            q.addFirst(s);
            return true;
        }

        /** True when {@code s} was still idle here (nobody took it). */
        boolean remove(Target t, Session s) {
            Deque<Session> q = idle.get(t);
            return q != null && q.remove(s);
        }

        /** Idle connections now (for tests and metrics). */
        public int size() {
            return idle.values().stream().mapToInt(Deque::size).sum();
        }
    }

    /**
     * Runs the attempt and waits for it: for worker threads, never an event loop.
     *
     * @throws IOException when the connection could not be made or broke before a result
     */
    public Result run(Target t, Message m) throws IOException {
        return run(t, List.of(m));
    }

    /**
     * Sends {@code messages} one after the other on one connection (RSET between them) and
     * waits: for worker threads, never an event loop.
     *
     * @throws IOException when the connection could not be made or broke before any message's result
     */
    public Result run(Target t, List<Message> messages) throws IOException {
        if (Context.isOnEventLoopThread()) {
            throw new IllegalStateException("run() blocks: call start() on an event loop");
        }
        try {
            // A last guard only: the session's own timers and the deadline end it sooner.
            return start(t, messages).toCompletionStage().toCompletableFuture().get(30, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof IOException io ? io : new IOException(String.valueOf(cause.getMessage()), cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        } catch (TimeoutException e) {
            throw new IOException("delivery attempt did not finish in 30 minutes");
        }
    }

    /** Runs the attempt; the future fails with an IOException when the connection could not be made or broke. */
    public Future<Result> start(Target t, List<Message> messages) {
        return connector.start(t, messages);
    }

    /** The SNI name for a next hop: null for an address literal ({@code 192.0.2.25}, {@code [2001:db8::25]}). */
    static String sniName(String hop) {
        String h = hop.startsWith("[") && hop.endsWith("]") ? hop.substring(1, hop.length() - 1) : hop;
        if (h.isEmpty() || h.indexOf(':') >= 0 || h.matches("[0-9.]+")) {
            return null;
        }
        return h.endsWith(".") ? h.substring(0, h.length() - 1) : h;
    }
}
