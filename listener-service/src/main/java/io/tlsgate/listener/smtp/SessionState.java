package io.tlsgate.listener.smtp;

import io.tlsgate.core.tls.Verification;
import io.tlsgate.core.tls.InboundTls;
import io.tlsgate.core.inbound.SenderAddress;
import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.platform.dns.ReverseDns;
import io.tlsgate.proto.policy.v1.InboundPolicy;
import io.tlsgate.proto.policy.v1.Listener;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything one SMTP connection knows, in the groups its handlers work on: the connection
 * (who, which listener, which policy), the greeting, the transaction in progress, the TLS
 * facts, and the counts. Used on the connection's event loop only.
 */
final class SessionState {

    enum Phase {
        /** reverse DNS and the host access table are being asked; nothing is read yet */
        CONNECTING,
        /** the HAT said REJECT: only QUIT */
        REJECTED,
        OPEN
    }

    /** The TLS facts of the connection. */
    static final class Tls {
        /** STARTTLS answered 220: the handshake is under way or done. */
        boolean started;
        boolean active;
        String protocol;
        String cipher;
        /** Subject of a client certificate that was checked and trusted. */
        String clientCertificate;
        Verification verification = Verification.NOT_CHECKED;
        /** Why TLS failed (null while it did not). */
        String failure;
        /** The result type of {@link #failure}. */
        TlsResultType failureType;
    }

    final long icid;
    final Listener listener;
    final String ip;
    final int port;
    final String localIp;
    Phase phase = Phase.CONNECTING;
    ReverseDns.Result rdns = ReverseDns.Result.UNKNOWN;
    InboundPolicy policy;
    InboundTls tlsSetting = InboundTls.OFF;
    private List<SenderAddress> mandatorySenders;

    String helo;
    boolean esmtp;

    boolean inTransaction;
    String mailFrom;
    /** MAIL FROM carried REQUIRETLS (RFC 8689). */
    boolean requireTls;
    final List<String> recipients = new ArrayList<>();
    /** The message whose content is being received (between 354 and the end of data), else null. */
    DataHandler.Incoming incoming;

    final Tls tls = new Tls();
    /** "TLS was required" logged once per connection. */
    boolean requiredLogged;

    int errors;
    int messages;
    final List<Long> mids = new ArrayList<>();

    SessionState(long icid, Listener listener, String ip, int port, String localIp) {
        this.icid = icid;
        this.listener = listener;
        this.ip = ip;
        this.port = port;
        this.localIp = localIp;
    }

    /** The mail flow policy and its TLS setting, as the host access table answered. */
    void policy(InboundPolicy p) {
        policy = p;
        tlsSetting = switch (p.getPolicy().getTls()) {
            case TLS_PREFERRED -> InboundTls.PREFERRED;
            case TLS_REQUIRED -> InboundTls.REQUIRED;
            case TLS_PREFERRED_VERIFY -> InboundTls.PREFERRED_VERIFY;
            case TLS_REQUIRED_VERIFY -> InboundTls.REQUIRED_VERIFY;
            default -> InboundTls.OFF;
        };
    }

    /** The policy's TLS-mandatory senders, parsed once per connection (bad patterns are skipped with a warning). */
    List<SenderAddress> mandatorySenders() {
        if (mandatorySenders == null) {
            mandatorySenders = new ArrayList<>();
            for (String pattern : policy.getPolicy().getTlsMandatorySendersList()) {
                try {
                    mandatorySenders.add(SenderAddress.parse(pattern));
                } catch (IllegalArgumentException e) {
                    MailLog.LOG.warnf("mail flow policy %s: ignoring TLS-mandatory sender %s: %s", policy.getPolicy().getName(),
                            pattern, e.getMessage());
                }
            }
        }
        return mandatorySenders;
    }

    /** Ends the transaction (RSET, EHLO, a message answered, STARTTLS). */
    void resetTransaction() {
        inTransaction = false;
        mailFrom = null;
        requireTls = false;
        recipients.clear();
    }

    /** RFC 3207 §4.2: after STARTTLS the client starts over with EHLO. */
    void forgetHello() {
        helo = null;
        esmtp = false;
        resetTransaction();
    }
}
