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
import io.vertx.core.net.KeyCertOptions;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.TrustOptions;
import io.vertx.core.parsetools.RecordParser;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.X509TrustManager;

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

    /** What happened: the TLS outcome, per-recipient replies, and the mail-log lines. */
    public record Result(OutboundTlsDecision.Action action, boolean encrypted, String protocol, String cipher,
            String verification, String resultType, boolean alert, List<String> rcptReplies, String dataReply,
            List<String> log) {

        public boolean delivered() {
            return dataReply != null && dataReply.startsWith("2");
        }
    }

    private static final long REPLY_TIMEOUT_MS = 300_000;
    /** RFC 5321 §4.5.3.2.6: wait at least 10 minutes for the reply to the end of DATA. */
    private static final long DATA_END_TIMEOUT_MS = 600_000;
    private static final int MAX_REPLY_LINE = 64 * 1024;
    private static final long HANDSHAKE_TIMEOUT_MS = 60_000;
    private static final String NOT_CHECKED = "not-checked";

    private final Vertx vertx;
    private final long dcid;
    /** Touched on the connection's event loop only. */
    private final List<String> log = new ArrayList<>();

    public SmtpDeliveryAttempt(Vertx vertx, long dcid) {
        this.vertx = vertx;
        this.dcid = dcid;
    }

    /**
     * Runs the attempt and waits for it: for worker threads, never an event loop.
     *
     * @throws IOException when the connection could not be made or broke before a result
     */
    public Result run(Target t, Message m) throws IOException {
        if (Context.isOnEventLoopThread()) {
            throw new IllegalStateException("run() blocks: call start() on an event loop");
        }
        try {
            return start(t, m).toCompletionStage().toCompletableFuture().get(30, TimeUnit.MINUTES);
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
    public Future<Result> start(Target t, Message m) {
        // Everything happens on one event loop, starting there: a listener attached from
        // another thread after a fast connect would run as a later task, and the greeting,
        // read before the socket had a handler, would be lost.
        Context context = vertx.getOrCreateContext();
        Promise<Result> result = Promise.promise();
        context.runOnContext(v -> connect(t, m).onComplete(result));
        return result.future();
    }

    private Future<Result> connect(Target t, Message m) {
        TrustCheck trust = new TrustCheck(t.trustAnchors());
        NetClientOptions options = new NetClientOptions()
                .setConnectTimeout(10_000)
                // Host names are checked by the mode's identity rule, not by the TLS layer.
                .setHostnameVerificationAlgorithm("")
                .setTrustOptions(TrustOptions.wrap(trust))
                .setSslHandshakeTimeout(60)
                .setSslHandshakeTimeoutUnit(TimeUnit.SECONDS);
        if (t.clientKey() != null) {
            options.setKeyCertOptions(new ClientKey(t.clientKey()));
        }
        NetClient client = vertx.createNetClient(options);
        return client.connect(t.port(), t.host())
                .recover(e -> Future.failedFuture(e instanceof IOException ? e : new IOException(e.getMessage(), e)))
                .compose(socket -> new Session(t, m, trust, socket).run())
                .eventually(v -> client.close());
    }

    /** One SMTP session on one socket; every method runs on the socket's event loop. */
    private final class Session {
        private final Target t;
        private final Message m;
        private final TrustCheck trust;
        private final NetSocket socket;
        private final ArrayDeque<String> replies = new ArrayDeque<>();
        private final StringBuilder partial = new StringBuilder();
        private Promise<String> waiting;
        /** The content being written, failed when the connection breaks mid-way. */
        private Promise<Void> writing;
        private long timer = -1;
        private boolean closed;
        /** The EHLO reply that applies to the transaction (after STARTTLS: the second one). */
        private String ehlo = "";

        Session(Target t, Message m, TrustCheck trust, NetSocket socket) {
            this.t = t;
            this.m = m;
            this.trust = trust;
            this.socket = socket;
            RecordParser lines = RecordParser.newDelimited("\r\n", this::line).maxRecordSize(MAX_REPLY_LINE);
            lines.exceptionHandler(e -> fail(new IOException("bad reply from the peer: " + e.getMessage(), e)));
            socket.handler(lines);
            socket.closeHandler(v -> {
                closed = true;
                fail(new IOException("connection closed by the peer"));
            });
            socket.exceptionHandler(e -> fail(e instanceof IOException io ? io : new IOException(e.getMessage(), e)));
        }

        Future<Result> run() {
            log.add("New SMTP DCID " + dcid + " interface " + socket.localAddress().host() + " address " + t.host() + " port "
                    + t.port());
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
                        Step after = OutboundTlsDecision.afterStarttlsReply(t.mode(), code(reply));
                        return after.action() == Action.CONTINUE ? tls() : plaintext(after, ehloReply);
                    });
                });
            });
        }

        private Future<Result> plaintext(Step s, String ehloReply) {
            if (s.action() == Action.SEND_PLAINTEXT && s.helo()) {
                return command("HELO " + t.heloName()).compose(r -> finish(s, true, null, NOT_CHECKED));
            }
            ehlo = ehloReply;
            return finish(s, true, null, NOT_CHECKED);
        }

        private Future<Result> tls() {
            if (!replies.isEmpty() || partial.length() > 0) {
                // Bytes sent before the handshake would be read as if protected (RFC 3207 §6).
                return finish(OutboundTlsDecision.afterHandshake(t.mode(),
                        "handshake failure: data after the STARTTLS reply"), false, null, NOT_CHECKED);
            }
            return upgrade().transform(ar -> {
                if (ar.failed()) {
                    String why = ar.cause().getMessage() == null ? ar.cause().toString() : ar.cause().getMessage();
                    return finish(OutboundTlsDecision.afterHandshake(t.mode(), "handshake failure: " + why), false, null,
                            NOT_CHECKED);
                }
                SSLSession session = socket.sslSession();
                String[] facts = {session.getProtocol(), CipherNames.openSsl(session.getCipherSuite())};
                log.add("DCID " + dcid + " TLS success protocol " + facts[0] + " cipher " + facts[1]);
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
                String failureType = trust.failureType();
                String detail = trust.failure();
                String reference = null;
                if (failureType == null) {
                    CertificateIdentity.Match match = identity(t, leaf);
                    if (match.matched()) {
                        reference = match.referenceIdentity();
                    } else {
                        failureType = "certificate-host-mismatch";
                        detail = match.detail();
                    }
                }
                Step verified = OutboundTlsDecision.afterVerification(t.mode(), failureType, detail);
                log.add(failureType == null ? "DCID " + dcid + " TLS verify success: " + reference
                        : "DCID " + dcid + " TLS verify failed: " + failureType + ": " + detail);
                return finish(verified, true, facts, failureType == null ? "success" : "failure");
            });
        }

        /**
         * The TLS handshake on this socket. Bounded by its own timer: a failure while the TLS
         * context is being built (a broken client key) surfaces as an exception on the event
         * loop, not on the upgrade's future, which would otherwise never complete.
         */
        private Future<Void> upgrade() {
            Promise<Void> done = Promise.promise();
            long guard = vertx.setTimer(HANDSHAKE_TIMEOUT_MS, id -> {
                done.tryFail(new IOException("no TLS handshake within " + HANDSHAKE_TIMEOUT_MS / 1000 + " s"));
                socket.close();
            });
            try {
                socket.upgradeToSsl(t.connectedName()).onComplete(ar -> {
                    vertx.cancelTimer(guard);
                    if (ar.succeeded()) {
                        done.tryComplete();
                    } else {
                        done.tryFail(ar.cause());
                    }
                });
            } catch (RuntimeException e) {
                vertx.cancelTimer(guard);
                done.tryFail(e);
            }
            return done.future();
        }

        /**
         * Logs the TLS outcome, sends the message when the step says so, says QUIT, and builds
         * the result. {@code verification}: {@code success}/{@code failure} after a certificate
         * check (whose line is logged already), else {@code not-checked}.
         */
        private Future<Result> finish(Step s, boolean connected, String[] tls, String verification) {
            if (s.reason() != null && verification.equals(NOT_CHECKED)) {
                log.add("DCID " + dcid + " TLS failed: " + s.reason());
            }
            boolean alert = t.mode().alertsOnFailure() && s.action() == Action.TEMPFAIL;
            if (alert) {
                log.add("DCID " + dcid + " IP " + t.host() + " TLS was required but could not be successfully negotiated");
            }
            List<String> rcptReplies = new ArrayList<>();
            boolean send = connected && (s.action() == Action.SEND_PLAINTEXT || s.action() == Action.SEND_ENCRYPTED);
            Future<String> transaction = send ? transaction(s, rcptReplies) : Future.succeededFuture(null);
            return transaction.compose(dataReply -> quit(connected).map(v -> new Result(s.action(),
                    s.action() == Action.SEND_ENCRYPTED, tls == null ? null : tls[0], tls == null ? null : tls[1], verification,
                    s.resultType(), alert, List.copyOf(rcptReplies), dataReply, List.copyOf(log))));
        }

        /** MAIL, RCPT (pipelined when offered), DATA; the reply to the end of DATA, or null when nothing was sent. */
        private Future<String> transaction(Step s, List<String> rcptReplies) {
            Future<String> hello = s.action() == Action.SEND_ENCRYPTED
                    ? command("EHLO " + t.heloName()).map(r -> ehlo = r) : Future.succeededFuture(ehlo);
            return hello.compose(x -> {
                log.add("Delivery start DCID " + dcid + " MID " + m.mid() + " to RID " + m.rids());
                Future<String> mail;
                if (advertises(ehlo, "PIPELINING")) {
                    // RFC 2920: MAIL and every RCPT in one write, then the replies in order.
                    StringBuilder batch = new StringBuilder("MAIL FROM:<" + m.mailFrom() + ">\r\n");
                    m.rcptTo().forEach(r -> batch.append("RCPT TO:<").append(r).append(">\r\n"));
                    socket.write(Buffer.buffer(batch.toString().getBytes(StandardCharsets.ISO_8859_1)));
                    mail = replies(1 + m.rcptTo().size()).map(all -> {
                        rcptReplies.addAll(all.subList(1, all.size()));
                        return all.get(0);
                    });
                } else {
                    mail = command("MAIL FROM:<" + m.mailFrom() + ">").compose(mailReply -> mailReply.startsWith("2")
                            ? rcptOneByOne(0, rcptReplies).map(v -> mailReply) : Future.succeededFuture(mailReply));
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
                        if (!dataReply.startsWith("354")) {
                            return Future.succeededFuture(dataReply);
                        }
                        return writeContent().compose(v -> reply(DATA_END_TIMEOUT_MS)).map(end -> {
                            if (end.startsWith("2")) {
                                log.add("Message done DCID " + dcid + " MID " + m.mid() + " to RID " + accepted);
                            }
                            return end;
                        });
                    });
                });
            });
        }

        /** Writes the content as the socket takes it (no more than its write queue ahead). */
        private Future<Void> writeContent() {
            Promise<Void> written = Promise.promise();
            writing = written;
            DotStuffer pieces = new DotStuffer(m.data());
            Runnable[] pump = new Runnable[1];
            pump[0] = () -> {
                Buffer b;
                while ((b = pieces.next()) != null) {
                    socket.write(b);
                    if (socket.writeQueueFull()) {
                        socket.drainHandler(v -> pump[0].run());
                        return;
                    }
                }
                written.tryComplete();
            };
            pump[0].run();
            return written.future();
        }

        private Future<Void> rcptOneByOne(int i, List<String> into) {
            if (i == m.rcptTo().size()) {
                return Future.succeededFuture();
            }
            return command("RCPT TO:<" + m.rcptTo().get(i) + ">").compose(r -> {
                into.add(r);
                return rcptOneByOne(i + 1, into);
            });
        }

        private Future<Void> quit(boolean connected) {
            if (!connected || closed) {
                return socket.close().otherwiseEmpty();
            }
            return command("QUIT").<Void>mapEmpty().otherwiseEmpty().compose(v -> socket.close().otherwiseEmpty());
        }

        private Future<String> command(String line) {
            socket.write(Buffer.buffer((line + "\r\n").getBytes(StandardCharsets.ISO_8859_1)));
            return reply();
        }

        private Future<String> reply() {
            return reply(REPLY_TIMEOUT_MS);
        }

        /** The next whole (multi-line) reply, lines joined with CRLF. */
        private Future<String> reply(long timeoutMs) {
            if (!replies.isEmpty()) {
                return Future.succeededFuture(replies.poll());
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

        private void line(Buffer b) {
            String l = b.toString(StandardCharsets.ISO_8859_1);
            if (partial.length() > 0) {
                partial.append("\r\n");
            }
            partial.append(l);
            if (l.length() >= 4 && l.charAt(3) == '-') {
                return;
            }
            String reply = partial.toString();
            partial.setLength(0);
            if (waiting != null) {
                Promise<String> w = waiting;
                waiting = null;
                cancelTimer();
                w.complete(reply);
            } else {
                replies.add(reply);
            }
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
    }

    /**
     * The message with dot-stuffing (RFC 5321 §4.5.2) and the final dot, in buffers of about
     * 64 KiB cut straight from the content, one at a time: no second copy of the whole message.
     */
    static final class DotStuffer {
        private final byte[] data;
        private int pos;
        private boolean lineStart = true;
        private boolean done;

        DotStuffer(byte[] data) {
            this.data = data;
        }

        /** The next piece; null after the final dot. */
        Buffer next() {
            if (done) {
                return null;
            }
            Buffer chunk = Buffer.buffer(Math.min(data.length - pos + 8, 65_600));
            while (pos < data.length && chunk.length() < 65_536) {
                byte c = data[pos];
                if (lineStart && c == '.') {
                    chunk.appendByte((byte) '.');
                }
                chunk.appendByte(c);
                lineStart = c == '\n' && pos > 0 && data[pos - 1] == '\r';
                pos++;
            }
            if (pos == data.length) {
                if (data.length > 0 && !lineStart) {
                    chunk.appendString("\r\n");
                }
                chunk.appendString(".\r\n");
                done = true;
            }
            return chunk;
        }
    }

    /**
     * The client key for every server name. Vert.x's own wrapper looks a key up by the SNI
     * name when the socket is upgraded with one, which a client key manager cannot answer.
     */
    private record ClientKey(KeyManagerFactory factory) implements KeyCertOptions {
        @Override
        public KeyCertOptions copy() {
            return this;
        }

        @Override
        public KeyManagerFactory getKeyManagerFactory(Vertx vertx) {
            return factory;
        }

        @Override
        public java.util.function.Function<String, KeyManagerFactory> keyManagerFactoryMapper(Vertx vertx) {
            return serverName -> factory;
        }
    }

    private static CertificateIdentity.Match identity(Target t, X509Certificate leaf) {
        String cn = CertificateIdentity.commonName(leaf);
        List<String> sans = CertificateIdentity.dnsNames(leaf);
        return t.mode().usesHostedIdentityRules()
                ? CertificateIdentity.hostedVerify(cn, sans, t.recipientDomain(), t.mxHosts(), t.routeHost())
                : CertificateIdentity.verify(cn, sans, t.connectedName(), t.recipientDomain());
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

    /**
     * Checks the chain against the anchors but never fails the handshake: the mode decides
     * what a bad certificate means, so the failure is recorded for {@link #failureType}.
     */
    private static final class TrustCheck implements X509TrustManager {
        private final X509TrustManager pkix;
        private String failureType;
        private String failure;

        TrustCheck(List<X509Certificate> anchors) {
            if (anchors.isEmpty()) {
                // PKIX refuses to run without anchors; with none, no chain can be trusted.
                pkix = null;
                return;
            }
            try {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                int i = 0;
                for (X509Certificate a : anchors) {
                    ks.setCertificateEntry("a" + i++, a);
                }
                TrustManagerFactory f = TrustManagerFactory.getInstance("PKIX");
                f.init(ks);
                pkix = (X509TrustManager) f.getTrustManagers()[0];
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
            try {
                chain[0].checkValidity();
            } catch (CertificateExpiredException | CertificateNotYetValidException e) {
                failureType = "certificate-expired";
                failure = "certificate expired or not yet valid: " + e.getMessage();
                return;
            }
            if (pkix == null) {
                failureType = "certificate-not-trusted";
                failure = "no trusted CA is configured";
                return;
            }
            try {
                pkix.checkServerTrusted(chain, authType);
            } catch (java.security.cert.CertificateException e) {
                failureType = "certificate-not-trusted";
                failure = e.getMessage();
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
            throw new UnsupportedOperationException();
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }

        String failureType() {
            return failureType;
        }

        String failure() {
            return failure;
        }
    }
}
