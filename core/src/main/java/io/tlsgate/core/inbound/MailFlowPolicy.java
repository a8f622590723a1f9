package io.tlsgate.core.inbound;

import io.tlsgate.core.tls.InboundTls;
import java.util.List;

/**
 * A mail flow policy (docs/inbound-policy.md): what a sender group's clients may do.
 *
 * @param tlsMandatorySenders envelope senders that must use TLS (PREFERRED and PREFERRED_VERIFY only)
 */
public record MailFlowPolicy(String name, Behaviour behaviour, InboundTls tls, List<SenderAddress> tlsMandatorySenders,
        int maxRecipientsPerMessage, int maxMessagesPerConnection) {

    public static final int MAX_RECIPIENTS = 100_000;
    public static final int MAX_MESSAGES = 10_000;
    public static final int MAX_MANDATORY_SENDERS = 10_000;
    public static final int DEFAULT_MAX_RECIPIENTS = 1000;
    public static final int DEFAULT_MAX_MESSAGES = 100;

    public MailFlowPolicy {
        tlsMandatorySenders = List.copyOf(tlsMandatorySenders);
        if (!tlsMandatorySenders.isEmpty() && !tls.allowsMandatorySenders()) {
            throw new IllegalArgumentException("TLS-mandatory senders need tls PREFERRED or PREFERRED_VERIFY");
        }
    }

    /** Whether {@code sender} (MAIL FROM path) must use TLS under this policy. */
    public boolean tlsMandatoryFor(String sender) {
        if (tls.requiresTls()) {
            return true;
        }
        for (SenderAddress a : tlsMandatorySenders) {
            if (a.matches(sender)) {
                return true;
            }
        }
        return false;
    }
}
