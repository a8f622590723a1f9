package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.CertificateIdentity;
import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsDecision.Step;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.tls.CipherNames;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.TrustOptions;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.security.cert.X509Certificate;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLSession;
import javax.net.ssl.KeyManagerFactory;

/**
 * One delivery attempt to one host over SMTP, with STARTTLS exactly per the mode
 * ({@link OutboundTlsDecision}) and, in the verify modes, the certificate checked against the
 * trust anchors and the mode's identity rule ({@link CertificateIdentity}). The connection
 * runs on a Vert.x event loop (Netty; no thread per connection, STARTTLS by upgrading the
 * socket); {@link #start} is asynchronous, {@link #run} waits for it from a worker thread.
 * Writes the mail-log lines of product.md §7 for its DCID.
 */
public final class SmtpDeliveryAttempt {

    /** Where to deliver and under which rules. */
    public record Target(String host, int port, String connectedName, String recipientDomain, List<String> mxHosts,
            String routeHost, OutboundTlsMode mode, List<X509Certificate> trustAnchors, String heloName,
            KeyManagerFactory clientKey) {}

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

        /** Only a 2xx to the end of the content: DATA's own reply is never one (it is 354 or a refusal). */
        public boolean delivered() {
            return dataReply != null && dataReply.startsWith("2");
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
            String verification, String resultType, String reason, boolean alert, List<Transaction> transactions,
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

    private static final String NOT_CHECKED = "not-checked";

    private final Vertx vertx;
    private final long dcid;
    private final Timeouts timeouts;
    private final Pool pool;
    /** Most messages one connection may carry over all its uses (the destination's maxMessagesPerConnection). */
    private final int maxPerConnection;
    /** Admits each new connection (the destination's concurrency limit). */
    private final Gate gate;

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

    /** With a {@code gate} that admits each new connection (an idle one from the pool needs no new permit). */
    public SmtpDeliveryAttempt(Vertx vertx, long dcid, Timeouts timeouts, Pool pool, int maxPerConnection, Gate gate) {
        this.gate = gate;
        this.vertx = vertx;
        this.dcid = dcid;
        this.timeouts = timeouts;
        this.pool = pool;
        this.maxPerConnection = maxPerConnection;
    }

    /**
     * Idle connections kept a short while after their messages (Postfix's connection cache):
     * the next messages for the same target (host, port, domain, TLS rules, client key) go on
     * one of them after an RSET instead of a new connection and handshake. A connection that
     * is idle too long says QUIT; one the server closes or writes to while idle is dropped.
     */
    public static final class Pool {
        private final long idleMillis;
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
                if (s.sent + n <= max && q.remove(s)) {
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
        Session idle = pool == null ? null : pool.take(t, messages.size(), maxPerConnection);
        if (idle != null) {
            Promise<Result> result = Promise.promise();
            idle.context.runOnContext(v -> idle.reuse(timeouts, maxPerConnection, messages)
                    .recover(e -> fresh(t, messages)).onComplete(result));
            return result.future();
        }
        return fresh(t, messages);
    }

    private Future<Result> fresh(Target t, List<Message> messages) {
        // Everything happens on one event loop, starting there: a listener attached from
        // another thread after a fast connect would run as a later task, and the greeting,
        // read before the socket had a handler, would be lost.
        Context context = vertx.getOrCreateContext();
        Promise<Result> result = Promise.promise();
        context.runOnContext(v -> gate.admit(t).compose(release -> connect(t, messages, once(release))).onComplete(result));
        return result.future();
    }

    private static Runnable once(Runnable r) {
        AtomicBoolean done = new AtomicBoolean();
        return () -> {
            if (done.compareAndSet(false, true)) {
                r.run();
            }
        };
    }

    private Future<Result> connect(Target t, List<Message> messages, Runnable release) {
        TrustCheck trust = new TrustCheck(t.trustAnchors());
        NetClientOptions options = new NetClientOptions()
                .setConnectTimeout((int) connectTimeout().toMillis())
                // Host names are checked by the mode's identity rule, not by the TLS layer.
                .setHostnameVerificationAlgorithm("")
                .setTrustOptions(TrustOptions.wrap(trust))
                .setSslHandshakeTimeout(timeouts.handshake().toMillis())
                .setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS);
        if (t.clientKey() != null) {
            options.setKeyCertOptions(new ClientKey(t.clientKey()));
        }
        NetClient client = vertx.createNetClient(options);
        return client.connect(t.port(), t.host())
                .recover(e -> {
                    client.close();
                    release.run();
                    return Future.failedFuture(e instanceof IOException ? e : new IOException(e.getMessage(), e));
                })
                .compose(socket -> {
                    // The session closes the client with its socket: now, or after an idle spell in the pool.
                    Session session = new Session(t, messages, trust, socket, client, release);
                    return session.run().onFailure(e -> socket.close()).eventually(v -> {
                        session.end();
                        return Future.succeededFuture();
                    });
                });
    }

    /** The connect timeout, shortened to what is left before the deadline. */
    private Duration connectTimeout() {
        if (timeouts.deadline() == null) {
            return timeouts.connect();
        }
        long left = Duration.between(Instant.now(), timeouts.deadline()).toMillis();
        return Duration.ofMillis(Math.max(1, Math.min(left, timeouts.connect().toMillis())));
    }

    /**
     * One SMTP session on one socket; every method runs on the socket's event loop. Each
     * command is counted in the {@link ReplyReader} before it is written, so every reply must
     * answer one command: a reply nobody asked for, or plaintext after the 220 to STARTTLS,
     * ends the session (replies completed before it still count).
     */
    private final class Session {
        private final Target t;
        private List<Message> messages;
        private final TrustCheck trust;
        private final NetSocket socket;
        private final NetClient client;
        private final Context context = Vertx.currentContext();
        /** This use's timeouts (a pooled connection's next use brings its own deadline). */
        private Timeouts timeouts;
        /** This use's mail-log lines. */
        private MailLog log = new MailLog(dcid);
        /** The first use's result: the connection's TLS facts for later uses. */
        private Result facts;
        private boolean parked;
        private long idleTimer = -1;
        /** Messages this connection carried (transactions), over all its uses. */
        private volatile int sent;
        private int maxMessages = maxPerConnection;
        private final ReplyReader reader = new ReplyReader();
        private final ArrayDeque<String> replies = new ArrayDeque<>();
        private Promise<String> waiting;
        /** The content being written, failed when the connection breaks mid-way. */
        private Promise<Void> writing;
        /** The TLS handshake under way, if any. */
        private Promise<Void> upgrading;
        private long timer = -1;
        private long deadlineTimer = -1;
        private boolean closed;
        /** Set once the peer broke the protocol (or the deadline passed): nothing more is sent or believed. */
        private IOException violation;
        /** The EHLO reply that applies to the transaction (after STARTTLS: the second one). */
        private String ehlo = "";

        Session(Target t, List<Message> messages, TrustCheck trust, NetSocket socket, NetClient client, Runnable release) {
            this.t = t;
            this.messages = messages;
            this.client = client;
            this.timeouts = SmtpDeliveryAttempt.this.timeouts;
            this.trust = trust;
            this.socket = socket;
            reader.expect(1); // the greeting
            socket.handler(this::data);
            socket.closeHandler(v -> {
                closed = true;
                client.close();
                release.run();
                if (parked) {
                    pool.remove(t, this);
                    cancelIdle();
                }
                fail(new IOException("connection closed by the peer"));
            });
            socket.exceptionHandler(e -> {
                if (upgrading != null) {
                    upgrading.tryFail(e);
                }
                fail(e instanceof IOException io ? io : new IOException(e.getMessage(), e));
            });
            startDeadline();
        }

        private void startDeadline() {
            if (timeouts.deadline() != null) {
                long left = Math.max(1, Duration.between(Instant.now(), timeouts.deadline()).toMillis());
                deadlineTimer = vertx.setTimer(left, id -> {
                    deadlineTimer = -1;
                    broken(new IOException("the delivery deadline for " + t.recipientDomain() + " passed"));
                });
            }
        }

        /**
         * Another use of this idle connection: RSET (which also shows it is alive), then the
         * messages. Fails, and closes the connection, when it cannot be used; the caller
         * opens a new one then.
         */
        Future<Result> reuse(Timeouts useTimeouts, int useMax, List<Message> next) {
            cancelIdle();
            parked = false;
            if (closed || violation != null) {
                return Future.failedFuture(new IOException("the idle connection was closed"));
            }
            timeouts = useTimeouts;
            maxMessages = useMax;
            messages = next;
            log = new MailLog(dcid);
            startDeadline();
            List<Transaction> done = new ArrayList<>();
            return command("RSET").compose(r -> r.startsWith("2") ? transactions(0, done)
                    : Future.failedFuture(new IOException("RSET refused: " + r)))
                    .transform(ar -> {
                        if (ar.failed() && done.isEmpty()) {
                            socket.close();
                            return Future.failedFuture(ar.cause());
                        }
                        return afterUse(facts, true, ar.failed() ? String.valueOf(ar.cause().getMessage()) : null, done);
                    })
                    .eventually(v -> {
                        end();
                        return Future.succeededFuture();
                    });
        }

        /**
         * The result of a use that sent messages; the connection then waits in the pool for
         * the next messages to the same target when it is healthy and there is room, and says
         * QUIT otherwise.
         */
        private Future<Result> afterUse(Result tlsFacts, boolean reused, String error, List<Transaction> done) {
            Result r = new Result(tlsFacts.action(), tlsFacts.encrypted(), tlsFacts.protocol(), tlsFacts.cipher(),
                    tlsFacts.verification(), tlsFacts.resultType(), tlsFacts.reason(), tlsFacts.alert() && !reused,
                    List.copyOf(done), error, log.lines(), dcid, reused);
            facts = r;
            sent += done.size();
            if (pool != null && error == null && violation == null && !closed && sent < maxMessages && pool.put(t, this)) {
                parked = true;
                messages = List.of(); // the contents are not held while idle
                // This use's deadline timer goes with end(), which every caller runs after the use.
                idleTimer = vertx.setTimer(pool.idleMillis, id -> {
                    idleTimer = -1;
                    if (pool.remove(t, this)) {
                        parked = false;
                        quit(true);
                    }
                });
                return Future.succeededFuture(r);
            }
            return quit(true).map(v -> r);
        }

        private void cancelIdle() {
            if (idleTimer >= 0) {
                vertx.cancelTimer(idleTimer);
                idleTimer = -1;
            }
        }

        Future<Result> run() {
            log.connected(socket.localAddress().host(), t);
            return reply().compose(greeting -> {
                if (!greeting.startsWith("220")) {
                    return finish(new Step(Action.TEMPFAIL, "greeting " + greeting, null, false), true, null, NOT_CHECKED);
                }
                return command("EHLO " + t.heloName()).compose(ehloReply -> {
                    Step s = OutboundTlsDecision.afterEhlo(t.mode(), ehloReply.startsWith("250"));
                    if (s.action() == Action.CONTINUE) {
                        s = OutboundTlsDecision.afterEhloReply(t.mode(), advertises(ehloReply, "STARTTLS"));
                    }
                    if (s.action() != Action.CONTINUE) {
                        return plaintext(s, ehloReply);
                    }
                    return command("STARTTLS").compose(reply -> {
                        if (violation != null) {
                            // The 220 came with more behind it: a man in the middle may be
                            // answering for the server in the session about to be encrypted.
                            return injected();
                        }
                        Step after = OutboundTlsDecision.afterStarttlsReply(t.mode(), code(reply));
                        return after.action() == Action.CONTINUE ? tls() : plaintext(after, ehloReply);
                    }, e -> e instanceof ReplyReader.ProtocolViolation ? injected() : Future.failedFuture(e));
                });
            });
        }

        /** Plaintext around the reply to STARTTLS: the connection is dropped, nothing is sent on it. */
        private Future<Result> injected() {
            return finish(OutboundTlsDecision.afterStarttlsInjection(violation.getMessage()), false, null, NOT_CHECKED);
        }

        private Future<Result> plaintext(Step s, String ehloReply) {
            if (s.action() == Action.SEND_PLAINTEXT && s.helo()) {
                return command("HELO " + t.heloName()).compose(r -> finish(s, true, null, NOT_CHECKED));
            }
            ehlo = ehloReply;
            return finish(s, true, null, NOT_CHECKED);
        }

        private Future<Result> tls() {
            return upgrade().transform(ar -> {
                if (ar.failed()) {
                    String why = ar.cause().getMessage() == null ? ar.cause().toString() : ar.cause().getMessage();
                    return finish(OutboundTlsDecision.afterHandshake(t.mode(), "handshake failure: " + why), false, null,
                            NOT_CHECKED);
                }
                if (violation instanceof ReplyReader.ProtocolViolation) {
                    // The server spoke after the handshake before our EHLO: nothing was asked.
                    return injected();
                }
                SSLSession session = socket.sslSession();
                String[] facts = {session.getProtocol(), CipherNames.openSsl(session.getCipherSuite())};
                log.tlsSuccess(facts[0], facts[1]);
                Step s = OutboundTlsDecision.afterHandshake(t.mode(), null);
                if (s.action() != Action.CONTINUE) {
                    return finish(s, true, facts, NOT_CHECKED);
                }
                X509Certificate leaf;
                try {
                    leaf = (X509Certificate) session.getPeerCertificates()[0];
                } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                    return Future.failedFuture(new IOException("no peer certificate after the handshake", e));
                }
                CertificateCheck check = CertificateCheck.of(t, trust, leaf);
                Step verified = OutboundTlsDecision.afterVerification(t.mode(), check.failureType(), check.detail());
                log.verification(check.failureType(), check.detail(), check.reference());
                return finish(verified, true, facts, check.verification());
            });
        }

        /**
         * The TLS handshake on this socket. Bounded by its own timer: a failure while the TLS
         * context is being built (a broken client key) surfaces as an exception on the event
         * loop, not on the upgrade's future, which would otherwise never complete. Bytes that
         * arrive once the upgrade has begun go to the TLS layer, so plaintext sent after the
         * 220 in a later packet fails the handshake.
         */
        private Future<Void> upgrade() {
            Promise<Void> done = Promise.promise();
            long guard = vertx.setTimer(timeouts.handshake().toMillis(), id -> {
                done.tryFail(new IOException("no TLS handshake within " + timeouts.handshake().toSeconds() + " s"));
                socket.close();
            });
            // An exception on the socket while the TLS layer is set up fails the handshake at once.
            upgrading = done;
            try {
                // RFC 6066 §3: SNI names a host; an address literal is sent as no SNI at all.
                String sni = sniName(t.connectedName());
                (sni == null ? socket.upgradeToSsl() : socket.upgradeToSsl(sni)).onComplete(ar -> {
                    if (ar.succeeded()) {
                        done.tryComplete();
                    } else {
                        done.tryFail(ar.cause());
                    }
                });
            } catch (RuntimeException e) {
                done.tryFail(e);
            }
            return done.future().eventually(v -> {
                vertx.cancelTimer(guard);
                upgrading = null;
                return Future.succeededFuture();
            });
        }

        /**
         * Logs the TLS outcome, sends the message when the step says so, says QUIT, and builds
         * the result. {@code verification}: {@code success}/{@code failure} after a certificate
         * check (whose line is logged already), else {@code not-checked}.
         */
        private Future<Result> finish(Step s, boolean connected, String[] tls, String verification) {
            if (s.reason() != null && verification.equals(NOT_CHECKED)) {
                log.tlsFailed(s.reason());
            }
            boolean alert = t.mode().alertsOnFailure() && s.action() == Action.TEMPFAIL;
            if (alert) {
                log.tlsRequired(t.host());
            }
            boolean send = connected && (s.action() == Action.SEND_PLAINTEXT || s.action() == Action.SEND_ENCRYPTED);
            List<Transaction> done = new ArrayList<>();
            Future<Void> sent = send ? hello(s).compose(v -> transactions(0, done)) : Future.succeededFuture();
            return sent.transform(ar -> {
                if (ar.failed() && done.isEmpty()) {
                    return Future.failedFuture(ar.cause());
                }
                String error = ar.failed() ? String.valueOf(ar.cause().getMessage()) : null;
                Result r = new Result(s.action(), s.action() == Action.SEND_ENCRYPTED, tls == null ? null : tls[0],
                        tls == null ? null : tls[1], verification, s.resultType(), s.reason(), alert, List.copyOf(done), error,
                        log.lines(), dcid, false);
                return send ? afterUse(r, false, error, done) : quit(connected).map(v -> r);
            });
        }

        /** EHLO again after TLS (RFC 3207 §4.2: forget what was learnt before); the plaintext EHLO reply stands otherwise. */
        private Future<Void> hello(Step s) {
            return s.action() == Action.SEND_ENCRYPTED ? command("EHLO " + t.heloName()).map(r -> {
                ehlo = r;
                return null;
            }) : Future.succeededFuture();
        }

        /** The messages from {@code i} on, RSET between them; stops at a refused RSET. */
        private Future<Void> transactions(int i, List<Transaction> done) {
            if (i == messages.size()) {
                return Future.succeededFuture();
            }
            Future<Boolean> ready = i == 0 ? Future.succeededFuture(true) : command("RSET").map(r -> r.startsWith("2"));
            return ready.compose(ok -> {
                if (!ok) {
                    return Future.succeededFuture();
                }
                Message m = messages.get(i);
                List<String> rcptReplies = new ArrayList<>();
                return transaction(m, rcptReplies).compose(dataReply -> {
                    done.add(new Transaction(m.mid(), List.copyOf(rcptReplies), dataReply));
                    return transactions(i + 1, done);
                });
            });
        }

        /**
         * MAIL, RCPT (pipelined when offered), DATA for one message; the reply to the end of
         * DATA, the refusal of DATA itself, or null when nothing was sent.
         */
        private Future<String> transaction(Message m, List<String> rcptReplies) {
            log.deliveryStart(m);
            Future<String> mail;
            if (advertises(ehlo, "PIPELINING")) {
                // RFC 2920: MAIL and every RCPT in one write, then exactly as many replies, in order.
                List<String> group = new ArrayList<>();
                group.add("MAIL FROM:<" + m.mailFrom() + ">");
                m.rcptTo().forEach(r -> group.add("RCPT TO:<" + r + ">"));
                mail = commands(group).map(all -> {
                    rcptReplies.addAll(all.subList(1, all.size()));
                    return all.get(0);
                });
            } else {
                mail = command("MAIL FROM:<" + m.mailFrom() + ">").compose(mailReply -> mailReply.startsWith("2")
                        ? rcptOneByOne(m, 0, rcptReplies).map(v -> mailReply) : Future.succeededFuture(mailReply));
            }
            return mail.compose(mailReply -> {
                if (!mailReply.startsWith("2")) {
                    // The sender was refused: that reply is every recipient's.
                    rcptReplies.clear();
                    m.rcptTo().forEach(r -> rcptReplies.add(mailReply));
                }
                List<Integer> accepted = new ArrayList<>();
                for (int i = 0; i < rcptReplies.size(); i++) {
                    if (rcptReplies.get(i).startsWith("2")) {
                        accepted.add(m.rids().get(i));
                    }
                }
                if (accepted.isEmpty()) {
                    return Future.succeededFuture(null);
                }
                return command("DATA").compose(dataReply -> {
                    if (dataReply.startsWith("4") || dataReply.startsWith("5")) {
                        return Future.succeededFuture(dataReply);
                    }
                    if (!dataReply.startsWith("354")) {
                        // Only 354 lets the content go; taking a 2xx here as the result
                        // would mark delivered a message the server never received.
                        return Future.failedFuture(new ReplyReader.ProtocolViolation(
                                "reply to DATA: " + ReplyReader.printable(dataReply)));
                    }
                    return writeContent(m).compose(v -> {
                        // Counted only now: a reply before the final dot answers nothing.
                        reader.expect(1);
                        return reply(timeouts.dataEnd().toMillis());
                    }).map(end -> {
                        if (end.startsWith("2")) {
                            log.messageDone(m, accepted);
                        }
                        return end;
                    });
                });
            });
        }

        /** Writes the content as the socket takes it (no more than its write queue ahead). */
        private Future<Void> writeContent(Message m) {
            Promise<Void> written = Promise.promise();
            writing = written;
            DotStuffer pieces = new DotStuffer(m.data());
            Runnable[] pump = new Runnable[1];
            pump[0] = () -> {
                Buffer b;
                while (violation == null && (b = pieces.next()) != null) {
                    socket.write(b);
                    if (socket.writeQueueFull()) {
                        socket.drainHandler(v -> pump[0].run());
                        return;
                    }
                }
                if (violation != null) {
                    written.tryFail(violation);
                } else {
                    written.tryComplete();
                }
            };
            pump[0].run();
            return written.future();
        }

        private Future<Void> rcptOneByOne(Message m, int i, List<String> into) {
            if (i == m.rcptTo().size()) {
                return Future.succeededFuture();
            }
            return command("RCPT TO:<" + m.rcptTo().get(i) + ">").compose(r -> {
                into.add(r);
                return rcptOneByOne(m, i + 1, into);
            });
        }

        private Future<Void> quit(boolean connected) {
            if (!connected || closed || violation != null) {
                return socket.close().otherwiseEmpty();
            }
            return command("QUIT").<Void>mapEmpty().otherwiseEmpty().compose(v -> socket.close().otherwiseEmpty());
        }

        private Future<String> command(String line) {
            return commands(List.of(line)).map(r -> r.get(0));
        }

        /**
         * Writes the commands in one packet and collects exactly one reply for each. A line
         * that would end a command early (CR, LF, NUL) is refused before anything is written.
         */
        private Future<List<String>> commands(List<String> lines) {
            if (violation != null) {
                return Future.failedFuture(violation);
            }
            StringBuilder out = new StringBuilder();
            for (String l : lines) {
                if (l.indexOf('\r') >= 0 || l.indexOf('\n') >= 0 || l.indexOf(0) >= 0) {
                    return Future.failedFuture(new IOException("refusing to send a command with a line break or NUL: "
                            + ReplyReader.printable(l)));
                }
                out.append(l).append("\r\n");
            }
            reader.expect(lines.size());
            socket.write(Buffer.buffer(out.toString().getBytes(StandardCharsets.ISO_8859_1)));
            return replies(lines.size());
        }

        private Future<String> reply() {
            return reply(timeouts.reply().toMillis());
        }

        /** The next whole (multi-line) reply, lines joined with CRLF. */
        private Future<String> reply(long timeoutMs) {
            if (!replies.isEmpty()) {
                return Future.succeededFuture(replies.poll());
            }
            if (violation != null) {
                return Future.failedFuture(violation);
            }
            if (closed) {
                return Future.failedFuture(new IOException("connection closed by the peer"));
            }
            waiting = Promise.promise();
            timer = vertx.setTimer(timeoutMs, id -> {
                timer = -1;
                fail(new IOException("no reply within " + timeoutMs / 1000 + " s"));
                socket.close();
            });
            return waiting.future();
        }

        /** The next {@code n} replies (pipelined commands), without deep recursion. */
        private Future<List<String>> replies(int n) {
            Promise<List<String>> done = Promise.promise();
            List<String> out = new ArrayList<>(n);
            Runnable[] next = new Runnable[1];
            next[0] = () -> {
                while (out.size() < n && !replies.isEmpty()) {
                    out.add(replies.poll());
                }
                if (out.size() == n) {
                    done.complete(out);
                    return;
                }
                reply().onSuccess(r -> {
                    out.add(r);
                    next[0].run();
                }).onFailure(done::fail);
            };
            next[0].run();
            return done.future();
        }

        /**
         * What the socket read: the replies it completes go to their commands in order; a
         * violation in the same read is recorded first, so the step a reply completes sees it
         * (the 220 to STARTTLS with data behind it).
         */
        private void data(Buffer b) {
            ReplyReader.Read read = reader.feed(b.getBytes());
            if (read.violation() != null && violation == null) {
                violation = read.violation();
                socket.close();
            }
            for (String reply : read.replies()) {
                if (waiting != null) {
                    Promise<String> w = waiting;
                    waiting = null;
                    cancelTimer();
                    w.complete(reply);
                } else {
                    replies.add(reply);
                }
            }
            if (violation != null) {
                fail(violation);
            }
        }

        /** The session cannot go on (deadline): whatever waits fails, the socket closes. */
        private void broken(IOException e) {
            if (violation == null) {
                violation = e;
            }
            fail(e);
            socket.close();
        }

        private void fail(IOException e) {
            cancelTimer();
            if (writing != null) {
                writing.tryFail(e);
            }
            if (waiting != null) {
                Promise<String> w = waiting;
                waiting = null;
                w.tryFail(e);
            }
        }

        private void cancelTimer() {
            if (timer >= 0) {
                vertx.cancelTimer(timer);
                timer = -1;
            }
        }

        /** The session is over: no timer may outlive it. */
        void end() {
            cancelTimer();
            if (deadlineTimer >= 0) {
                vertx.cancelTimer(deadlineTimer);
                deadlineTimer = -1;
            }
        }
    }

    /** The SNI name for a next hop: null for an address literal ({@code 192.0.2.25}, {@code [2001:db8::25]}). */
    static String sniName(String hop) {
        String h = hop.startsWith("[") && hop.endsWith("]") ? hop.substring(1, hop.length() - 1) : hop;
        if (h.isEmpty() || h.indexOf(':') >= 0 || h.matches("[0-9.]+")) {
            return null;
        }
        return h.endsWith(".") ? h.substring(0, h.length() - 1) : h;
    }

    private static boolean advertises(String ehlo, String keyword) {
        for (String line : ehlo.split("\r\n")) {
            if (line.length() > 4 && line.substring(4).trim().toUpperCase(Locale.ROOT).split(" ")[0].equals(keyword)) {
                return true;
            }
        }
        return false;
    }

    private static int code(String reply) {
        try {
            return Integer.parseInt(reply.substring(0, 3));
        } catch (RuntimeException e) {
            return 0;
        }
    }
}
