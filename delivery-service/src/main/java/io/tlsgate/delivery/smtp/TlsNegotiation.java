package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsDecision.Step;
import io.tlsgate.core.tls.Verification;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Target;
import io.tlsgate.platform.tls.CipherNames;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetSocket;
import java.io.IOException;
import java.security.cert.X509Certificate;
import java.util.Locale;
import javax.net.ssl.SSLSession;

/**
 * The start of a new connection: greeting, EHLO and STARTTLS exactly per the mode
 * ({@link OutboundTlsDecision}), the TLS handshake by upgrading the socket, and in the verify
 * modes the certificate's check ({@link CertificateCheck}); logs the TLS success and the
 * certificate's verdict.
 */
final class TlsNegotiation {
    /**
     * Where the TLS decision ended: its last step, whether the connection may carry messages,
     * the TLS protocol and cipher (null without TLS), success or failure after a certificate
     * check (whose line is logged already), else not checked, and the EHLO
     * reply that applies so far ("" when a new one is due or none was taken).
     */
    record Outcome(Step step, boolean connected, String protocol, String cipher, Verification verification, String ehlo) {

        static Future<Outcome> unchecked(Step step, boolean connected) {
            return Future.succeededFuture(new Outcome(step, connected, null, null, Verification.NOT_CHECKED, ""));
        }
    }

    private final Vertx vertx;
    private final Target t;
    private final SessionIo io;
    private final MailLog log;

    TlsNegotiation(Vertx vertx, Target t, SessionIo io, MailLog log) {
        this.vertx = vertx;
        this.t = t;
        this.io = io;
        this.log = log;
    }

    Future<Outcome> run() {
        return io.reply().compose(greeting -> {
            if (!greeting.startsWith("220")) {
                return Outcome.unchecked(new Step(Action.TEMPFAIL, "greeting " + greeting, null, false), true);
            }
            return io.command("EHLO " + t.heloName()).compose(ehloReply -> {
                Step s = OutboundTlsDecision.afterEhlo(t.mode(), ehloReply.startsWith("250"));
                if (s.action() == Action.CONTINUE) {
                    s = OutboundTlsDecision.afterEhloReply(t.mode(), advertises(ehloReply, "STARTTLS"));
                }
                if (s.action() != Action.CONTINUE) {
                    return plaintext(s, ehloReply);
                }
                return io.command("STARTTLS").compose(reply -> {
                    if (io.violation() != null) {
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
    private Future<Outcome> injected() {
        return Outcome.unchecked(OutboundTlsDecision.afterStarttlsInjection(io.violation().getMessage()), false);
    }

    private Future<Outcome> plaintext(Step s, String ehloReply) {
        if (s.action() == Action.SEND_PLAINTEXT && s.helo()) {
            return io.command("HELO " + t.heloName()).compose(r -> Outcome.unchecked(s, true));
        }
        return Future.succeededFuture(new Outcome(s, true, null, null, Verification.NOT_CHECKED, ehloReply));
    }

    private Future<Outcome> tls() {
        return upgrade().transform(ar -> {
            if (ar.failed()) {
                String why = ar.cause().getMessage() == null ? ar.cause().toString() : ar.cause().getMessage();
                return Outcome.unchecked(OutboundTlsDecision.afterHandshake(t.mode(), "handshake failure: " + why), false);
            }
            if (io.violation() instanceof ReplyReader.ProtocolViolation) {
                // The server spoke after the handshake before our EHLO: nothing was asked.
                return injected();
            }
            SSLSession session = io.socket().sslSession();
            String protocol = session.getProtocol();
            String cipher = CipherNames.openSsl(session.getCipherSuite());
            log.tlsSuccess(protocol, cipher);
            Step s = OutboundTlsDecision.afterHandshake(t.mode(), null);
            if (s.action() != Action.CONTINUE) {
                return Future.succeededFuture(new Outcome(s, true, protocol, cipher, Verification.NOT_CHECKED, ""));
            }
            X509Certificate[] chain;
            try {
                chain = x509(session.getPeerCertificates());
            } catch (javax.net.ssl.SSLPeerUnverifiedException | ClassCastException e) {
                return Future.failedFuture(new IOException("no X.509 peer certificate after the handshake", e));
            }
            CertificateCheck check = CertificateCheck.of(t, chain, session.getProtocol(), session.getCipherSuite());
            Step verified = OutboundTlsDecision.afterVerification(t.mode(), check.failureType(), check.detail());
            log.verification(check.failureType(), check.detail(), check.reference());
            return Future.succeededFuture(new Outcome(verified, true, protocol, cipher, check.verification(), ""));
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
        NetSocket socket = io.socket();
        Promise<Void> done = Promise.promise();
        long guard = vertx.setTimer(io.timeouts().handshake().toMillis(), id -> {
            done.tryFail(new IOException("no TLS handshake within " + io.timeouts().handshake().toSeconds() + " s"));
            socket.close();
        });
        // An exception on the socket while the TLS layer is set up fails the handshake at once.
        io.upgrading(done);
        try {
            // RFC 6066 §3: SNI names a host; an address literal is sent as no SNI at all.
            String sni = SmtpDeliveryAttempt.sniName(t.connectedName());
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
            io.upgrading(null);
            return Future.succeededFuture();
        });
    }

    private static X509Certificate[] x509(java.security.cert.Certificate[] certificates) {
        X509Certificate[] chain = new X509Certificate[certificates.length];
        for (int i = 0; i < chain.length; i++) {
            chain[i] = (X509Certificate) certificates[i];
        }
        return chain;
    }

    /** Whether an EHLO reply offers {@code keyword} (STARTTLS, PIPELINING). */
    static boolean advertises(String ehlo, String keyword) {
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
