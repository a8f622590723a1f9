package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Message;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Target;
import java.util.ArrayList;
import java.util.List;

/** One use of a connection's mail-log lines (docs/delivery.md "Mail log"), all of them for one DCID. */
final class MailLog {
    private final long dcid;
    private final List<String> lines = new ArrayList<>();

    MailLog(long dcid) {
        this.dcid = dcid;
    }

    void connected(String localAddress, Target t) {
        lines.add("New SMTP DCID " + dcid + " interface " + localAddress + " address " + t.host() + " port " + t.port());
    }

    void tlsSuccess(String protocol, String cipher) {
        lines.add("DCID " + dcid + " TLS success protocol " + protocol + " cipher " + cipher);
    }

    /** The certificate check's line: {@code failureType} null for success (then {@code reference} matched). */
    void verification(TlsResultType failureType, String detail, String reference) {
        lines.add(failureType == null ? "DCID " + dcid + " TLS verify success: " + reference
                : "DCID " + dcid + " TLS verify failed: " + failureType.wire() + ": " + detail);
    }

    void tlsFailed(String reason) {
        lines.add("DCID " + dcid + " TLS failed: " + reason);
    }

    void tlsRequired(String host) {
        lines.add("DCID " + dcid + " IP " + host + " TLS was required but could not be successfully negotiated");
    }

    void deliveryStart(Message m) {
        lines.add("Delivery start DCID " + dcid + " MID " + m.mid() + " to RID " + m.rids());
    }

    void requireTlsRefused(Message m) {
        lines.add("DCID " + dcid + " MID " + m.mid() + " not sent: REQUIRETLS required and the server does not offer it");
    }

    void messageDone(Message m, List<Integer> accepted) {
        lines.add("Message done DCID " + dcid + " MID " + m.mid() + " to RID " + accepted);
    }

    List<String> lines() {
        return List.copyOf(lines);
    }
}
