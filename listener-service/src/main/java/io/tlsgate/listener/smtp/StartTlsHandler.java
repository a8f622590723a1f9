package io.tlsgate.listener.smtp;

import io.tlsgate.core.tls.Verification;
import io.tlsgate.core.tls.TlsOutcome;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.tlsgate.core.tls.InboundTls;
import io.tlsgate.core.tls.TlsResult;
import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.listener.upstream.CertClient;
import io.tlsgate.listener.upstream.ClientCertificateTrust;
import io.tlsgate.platform.tls.CipherNames;
import io.tlsgate.platform.tls.TlsEngine;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * STARTTLS (RFC 3207) and what follows it: the engine with the listener's certificate slot,
 * protocols and suites (server order), the client certificate requested or required as the
 * mail flow policy says; the handshake's result; why TLS failed, in RFC 8460's result types;
 * and the connection's TLS outcome event.
 */
final class StartTlsHandler implements CommandHandler {

    private final Upstream upstream;
    private final SessionSettings settings;

    StartTlsHandler(Upstream upstream, SessionSettings settings) {
        this.upstream = upstream;
        this.settings = settings;
    }

    @Override
    public Set<String> verbs() {
        return Set.of("STARTTLS");
    }

    @Override
    public Answer handle(SessionState s, String verb, String arg) {
        if (!arg.isEmpty()) {
            return Answer.error(Reply.STARTTLS_SYNTAX);
        }
        if (s.tls.active || s.tls.started) {
            return Answer.error(Reply.TLS_ALREADY_ACTIVE);
        }
        if (!s.tlsSetting.advertisesStartTls()) {
            return Answer.error(Reply.TLS_NOT_OFFERED);
        }
        CertClient.ServerTls tls = upstream.tls(s.listener.getCertificateSlot());
        if (tls == null) {
            MailLog.tlsNotAvailable(s);
            return Answer.reply(Reply.TLS_NOT_AVAILABLE);
        }
        s.tls.started = true;
        s.forgetHello();
        return new Answer.StartTls(alloc -> engine(tls.engine(alloc), s.tlsSetting), settings.handshakeTimeout().toMillis());
    }

    private SSLEngine engine(SSLEngine engine, InboundTls setting) {
        engine.setUseClientMode(false);
        engine.setEnabledProtocols(supported(settings.tlsProtocols(), engine.getSupportedProtocols()));
        engine.setEnabledCipherSuites(supported(settings.tlsCiphers(), engine.getSupportedCipherSuites()));
        SSLParameters params = engine.getSSLParameters();
        params.setUseCipherSuitesOrder(true);
        engine.setSSLParameters(params);
        if (setting.requiresClientCertificate()) {
            engine.setNeedClientAuth(true);
        } else if (setting.requestsClientCertificate()) {
            engine.setWantClientAuth(true);
        }
        return engine;
    }

    private static String[] supported(List<String> wanted, String[] available) {
        List<String> a = Arrays.asList(available);
        return wanted.stream().filter(a::contains).toArray(String[]::new);
    }

    /**
     * The client sent more after STARTTLS before the handshake: RFC 3207 §5 / CVE-2011-0411,
     * plaintext must never be taken as if it came over TLS. It is discarded and the connection
     * closed after the 220.
     */
    static Answer injected(SessionState s, int octets) {
        s.tls.failure = "command injection: " + octets + " octets pipelined after STARTTLS";
        s.tls.failureType = TlsResultType.VALIDATION_FAILURE;
        MailLog.tlsInjection(s);
        return Answer.closing(Reply.READY_FOR_TLS);
    }

    /** The handshake succeeded: the TLS facts, and the client certificate when the policy asked for one. */
    static void established(SessionState s, SSLSession session) {
        s.tls.active = true;
        s.tls.protocol = session.getProtocol();
        s.tls.cipher = CipherNames.openSsl(session.getCipherSuite());
        MailLog.tlsSuccess(s);
        if (s.tlsSetting.requestsClientCertificate()) {
            try {
                s.tls.clientCertificate = ((X509Certificate) session.getPeerCertificates()[0]).getSubjectX500Principal().getName();
                s.tls.verification = Verification.SUCCESS;
                MailLog.clientCertificateVerified(s);
            } catch (SSLPeerUnverifiedException e) {
                s.tls.verification = Verification.NOT_PRESENTED;
                MailLog.noClientCertificate(s);
            }
        }
        // RFC 3207 §4.2: forget everything learnt before TLS; the client must say EHLO again.
        s.forgetHello();
    }

    /** The handshake failed (once per connection): why, in RFC 8460's terms. */
    static void failed(SessionState s, Throwable cause) {
        if (s.tls.failure != null) {
            return;
        }
        String message = MailLog.message(cause);
        ClientCertificateTrust.Rejected rejected = find(cause, ClientCertificateTrust.Rejected.class);
        if (rejected != null) {
            s.tls.failure = rejected.getMessage();
            s.tls.failureType = rejected.resultType();
            s.tls.verification = Verification.FAILURE;
        } else if (TlsEngine.keyUsageRefused(message)) {
            // BoringSSL checks the client certificate's key usage before the trust manager sees it.
            s.tls.failure = "client certificate not trusted: its key usage does not allow signing (" + message + ")";
            s.tls.failureType = TlsResultType.CERTIFICATE_NOT_TRUSTED;
            s.tls.verification = Verification.FAILURE;
        } else if (find(cause, NotSslRecordException.class) != null) {
            s.tls.failure = "not a TLS record (plaintext after STARTTLS)";
            s.tls.failureType = TlsResultType.VALIDATION_FAILURE;
        } else if (find(cause, SslHandshakeTimeoutException.class) != null) {
            s.tls.failure = "handshake timed out";
        } else if (s.tlsSetting.requiresClientCertificate() && message.toLowerCase(Locale.ROOT).contains("certificate")) {
            s.tls.failure = "no client certificate (" + message + ")";
            s.tls.failureType = TlsResultType.VALIDATION_FAILURE;
            s.tls.verification = Verification.FAILURE;
        } else {
            s.tls.failure = message;
        }
        MailLog.tlsFailed(s);
    }

    /** JSSE: "renegotiation is not allowed"; BoringSSL, which never renegotiates as a server: NO_RENEGOTIATION. */
    static boolean renegotiationRefused(Throwable cause) {
        for (Throwable c = cause; c != null; c = c.getCause()) {
            if (c instanceof javax.net.ssl.SSLException && c.getMessage() != null
                    && (c.getMessage().contains("renegotiation is not allowed") || c.getMessage().contains("NO_RENEGOTIATION"))) {
                return true;
            }
        }
        return false;
    }

    /** The connection's TLS outcome (published when it ends, for connections that were greeted). */
    static TlsOutcome outcome(SessionState s, Instant now) {
        TlsResult result;
        TlsResultType type = null;
        String reason = null;
        if (s.tls.failure != null) {
            result = TlsResult.FAILURE;
            type = s.tls.failureType == null ? TlsResultType.VALIDATION_FAILURE : s.tls.failureType;
            reason = s.tls.failure;
        } else if (s.tls.active) {
            result = TlsResult.SUCCESS;
        } else if (s.tlsSetting == InboundTls.OFF) {
            result = TlsResult.NOT_ATTEMPTED;
        } else if (s.tlsSetting.requiresTls()) {
            result = TlsResult.FAILURE;
            type = TlsResultType.STARTTLS_NOT_SUPPORTED;
            reason = "TLS was required but remote host did not initiate it";
        } else {
            result = TlsResult.PLAINTEXT_FALLBACK;
        }
        TlsOutcome.Inbound connection = new TlsOutcome.Inbound(s.icid, List.copyOf(s.mids), s.listener.getName(), s.ip,
                s.rdns.host(), s.rdns.verified(), s.port, s.policy.getSenderGroup(), s.policy.getPolicy().getName(),
                s.tls.clientCertificate);
        ListenerMetrics.tlsOutcome(s.tlsSetting.name(), result.wire(), type == null ? null : type.wire());
        return new TlsOutcome(connection, s.tlsSetting.name(), s.policy.getSenderGroup(), result, type, reason, s.tls.protocol,
                s.tls.cipher, s.tls.verification, now);
    }

    private static <T extends Throwable> T find(Throwable t, Class<T> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }
}
