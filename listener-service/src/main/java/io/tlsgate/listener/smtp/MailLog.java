package io.tlsgate.listener.smtp;

import java.util.List;
import org.jboss.logging.Logger;

/**
 * Every line the listener writes to the mail log ({@code io.tlsgate.maillog}, docs/mail-log.md),
 * in one place: ICID lines for connections, MID lines for messages, in the appliance's words.
 */
final class MailLog {

    static final Logger MAILLOG = Logger.getLogger("io.tlsgate.maillog");
    /** Not the mail log: internal errors and warnings of the SMTP sessions. */
    static final Logger LOG = Logger.getLogger(SmtpSession.class);

    private MailLog() {}

    static void refused(SessionState s, boolean listenerFull) {
        ListenerMetrics.rejected(s, listenerFull ? "connection-limit" : "client-limit");
        MAILLOG.infof("New SMTP ICID %d interface %s (%s) address %s refused: %s", s.icid, s.listener.getName(), s.localIp, s.ip,
                listenerFull ? "listener at its connection limit" : "too many connections from this client");
    }

    static void connected(SessionState s) {
        ListenerMetrics.session(s);
        MAILLOG.infof("New SMTP ICID %d interface %s (%s) address %s reverse dns host %s verified %s", s.icid, s.listener.getName(),
                s.localIp, s.ip, s.rdns.host() == null ? "unknown" : s.rdns.host(), s.rdns.verified() ? "yes" : "no");
    }

    static void policyFailed(SessionState s, String why) {
        MAILLOG.infof("ICID %d policy lookup failed: %s", s.icid, why);
    }

    static void matched(SessionState s) {
        String behaviour = s.policy.getPolicy().getBehaviour().name();
        if (behaviour.equals("REJECT") || behaviour.equals("TCPREFUSE")) {
            ListenerMetrics.rejected(s, "policy-" + behaviour.toLowerCase(java.util.Locale.ROOT));
        }
        MAILLOG.infof("ICID %d %s SG %s match %s", s.icid, s.policy.getPolicy().getBehaviour(), s.policy.getSenderGroup(),
                s.policy.getMatchedBy());
    }

    static void commandsNormalized(SessionState s, int bareLf, int bareCr) {
        MAILLOG.infof("ICID %d normalized %d bare <LF> and %d bare <CR> to <CR><LF> in commands", s.icid, bareLf, bareCr);
    }

    static void ended(SessionState s, boolean onPurpose) {
        MAILLOG.infof("ICID %d %s", s.icid, onPurpose ? "close" : "lost");
    }

    static void renegotiationRefused(SessionState s) {
        MAILLOG.infof("ICID %d TLS client-initiated renegotiation refused; connection closed", s.icid);
    }

    static void tlsRequiredNotStarted(SessionState s) {
        ListenerMetrics.rejected(s, "tls-required");
        MAILLOG.infof("ICID %d TLS was required but remote host did not initiate it", s.icid);
    }

    static void bareNewline(SessionState s, String what, boolean inContent) {
        ListenerMetrics.rejected(s, "bare-newline");
        if (inContent) {
            MAILLOG.infof("ICID %d bare %s received in message content: rejected, message not queued, connection closed", s.icid, what);
        } else {
            MAILLOG.infof("ICID %d bare %s received in a command: rejected, connection closed", s.icid, what);
        }
    }

    static void tooManyMessages(SessionState s) {
        ListenerMetrics.rejected(s, "too-many-messages");
        MAILLOG.infof("ICID %d too many messages in this session (%d)", s.icid, s.messages);
    }

    static void tooManyErrors(SessionState s) {
        ListenerMetrics.rejected(s, "too-many-errors");
        MAILLOG.infof("ICID %d too many errors (%d)", s.icid, s.errors);
    }

    static void senderMustUseTls(SessionState s, String sender) {
        ListenerMetrics.rejected(s, "sender-must-use-tls");
        MAILLOG.infof("ICID %d sender <%s> must use TLS: refused on a plaintext connection", s.icid, sender);
    }

    static void recipientLookupFailed(SessionState s, String recipient, String why) {
        ListenerMetrics.rejected(s, "recipient-lookup-failed");
        MAILLOG.infof("ICID %d recipient <%s>: RAT lookup failed: %s", s.icid, recipient, why);
    }

    static void relayDenied(SessionState s, String recipient) {
        ListenerMetrics.rejected(s, "relay-denied");
        MAILLOG.infof("ICID %d RID %d rejected <%s>: relay access denied (not in the RAT)", s.icid, s.recipients.size(), recipient);
    }

    static void bounceRejected(SessionState s, String recipient, String why) {
        ListenerMetrics.rejected(s, "bounce-verification");
        MAILLOG.infof("ICID %d RID %d rejected <%s>: bounce verification failed (%s)", s.icid, s.recipients.size(), recipient, why);
    }

    static void bounceVerified(SessionState s, String tagged, String recipient) {
        MAILLOG.infof("ICID %d RID %d bounce verification tag valid: <%s> is <%s>", s.icid, s.recipients.size(), tagged, recipient);
    }

    static void queueUnavailable(SessionState s, String why) {
        ListenerMetrics.rejected(s, "queue-unavailable");
        MAILLOG.infof("ICID %d message not queued: delivery-service unavailable (%s)", s.icid, why);
    }

    static void tooBig(SessionState s, long bytes) {
        ListenerMetrics.rejected(s, "too-big");
        MAILLOG.infof("ICID %d message refused: %d octets exceed the listener's limit of %d", s.icid, bytes,
                s.listener.getMaxMessageSizeBytes());
    }

    /** A message committed by delivery-service (it has its MID now). */
    static void queued(SessionState s, long mid, String from, List<String> to, long size, int bareLf, int bareCr) {
        ListenerMetrics.queued(s);
        MAILLOG.infof("Start MID %d ICID %d", mid, s.icid);
        MAILLOG.infof("MID %d ICID %d From: <%s>", mid, s.icid, from);
        for (int i = 0; i < to.size(); i++) {
            MAILLOG.infof("MID %d ICID %d RID %d To: <%s>", mid, s.icid, i, to.get(i));
        }
        if (bareLf + bareCr > 0) {
            MAILLOG.infof("MID %d ICID %d normalized %d bare <LF> and %d bare <CR> to <CR><LF> in the message content", mid, s.icid,
                    bareLf, bareCr);
        }
        MAILLOG.infof("MID %d ready %d bytes from <%s>", mid, size, from);
    }

    static void notQueued(SessionState s, String why) {
        MAILLOG.infof("ICID %d message not queued: %s", s.icid, why);
    }

    static void tlsNotAvailable(SessionState s) {
        MAILLOG.infof("ICID %d TLS not available: no certificate for slot %s yet", s.icid, s.listener.getCertificateSlot());
    }

    static void tlsInjection(SessionState s) {
        ListenerMetrics.starttls(s, false);
        MAILLOG.infof("ICID %d TLS failed: %s were discarded; connection closed", s.icid, s.tls.failure);
    }

    static void tlsSuccess(SessionState s) {
        ListenerMetrics.starttls(s, true);
        MAILLOG.infof("ICID %d TLS success protocol %s cipher %s", s.icid, s.tls.protocol, s.tls.cipher);
    }

    static void clientCertificateVerified(SessionState s) {
        MAILLOG.infof("ICID %d TLS client certificate verified: %s", s.icid, s.tls.clientCertificate);
    }

    static void noClientCertificate(SessionState s) {
        MAILLOG.infof("ICID %d TLS no client certificate presented", s.icid);
    }

    static void tlsFailed(SessionState s) {
        ListenerMetrics.starttls(s, false);
        MAILLOG.infof("ICID %d TLS failed: %s", s.icid, s.tls.failure);
    }

    /** The innermost useful message of a failure (completion wrappers and empty handshake exceptions skipped). */
    static String message(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && (c instanceof java.util.concurrent.CompletionException
                || c instanceof javax.net.ssl.SSLHandshakeException && c.getMessage() == null)) {
            c = c.getCause();
        }
        return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
    }
}
