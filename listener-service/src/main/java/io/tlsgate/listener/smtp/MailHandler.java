package io.tlsgate.listener.smtp;

import java.math.BigInteger;
import java.util.Map;
import java.util.Set;

/**
 * MAIL FROM: starts a transaction. Refused when there was no greeting, a transaction is open,
 * the session used up the policy's messages per connection (421, closed), the path or a
 * parameter is wrong (only SIZE, BODY=7BIT/8BITMIME and, over TLS, REQUIRETLS; only after EHLO), SIZE is over the
 * listener's limit, the address is not ASCII, or the sender is one the policy requires TLS
 * for and TLS is not active.
 */
final class MailHandler implements CommandHandler {

    @Override
    public Set<String> verbs() {
        return Set.of("MAIL");
    }

    @Override
    public Answer handle(SessionState s, String verb, String arg) {
        if (s.helo == null) {
            return Answer.error(Reply.NEED_HELO);
        }
        if (s.inTransaction) {
            return Answer.error(Reply.NESTED_MAIL);
        }
        if (s.messages >= s.policy.getPolicy().getMaxMessagesPerConnection()) {
            MailLog.tooManyMessages(s);
            return Answer.closing(Reply.TOO_MANY_MESSAGES, s.listener.getHostname());
        }
        SmtpCommand.PathArgs p;
        try {
            p = SmtpCommand.parse(arg, "FROM:", true);
        } catch (SmtpCommand.Invalid e) {
            return Answer.error(e.syntax() ? Reply.MAIL_SYNTAX : Reply.BAD_ADDRESS);
        }
        for (Map.Entry<String, String> param : p.params().entrySet()) {
            Answer refused = parameter(s, param.getKey(), param.getValue());
            if (refused != null) {
                return refused;
            }
        }
        if (!s.esmtp && !p.params().isEmpty()) {
            return Answer.error(Reply.UNSUPPORTED_PARAMETER, p.params().keySet().iterator().next());
        }
        if (!p.ascii()) {
            return Answer.error(Reply.NON_ASCII_ADDRESS);
        }
        if (!s.tls.active && s.tlsSetting.allowsMandatorySenders() && s.mandatorySenders().stream().anyMatch(m -> m.matches(p.address()))) {
            MailLog.senderMustUseTls(s, p.address());
            return Answer.error(Reply.MUST_STARTTLS);
        }
        s.inTransaction = true;
        s.mailFrom = p.address();
        s.requireTls = p.params().containsKey("REQUIRETLS");
        s.recipients.clear();
        return Answer.reply(Reply.SENDER_OK);
    }

    /** Null when the parameter is acceptable, else the refusal. */
    private static Answer parameter(SessionState s, String key, String value) {
        return switch (key) {
            case "SIZE" -> {
                if (value == null || !value.matches("\\d{1,19}")) {
                    yield Answer.error(Reply.MAIL_SYNTAX);
                }
                yield new BigInteger(value).compareTo(BigInteger.valueOf(s.listener.getMaxMessageSizeBytes())) > 0
                        ? Answer.error(Reply.MESSAGE_TOO_BIG) : null;
            }
            case "BODY" -> value != null && (value.equalsIgnoreCase("7BIT") || value.equalsIgnoreCase("8BITMIME")) ? null
                    : Answer.error(Reply.UNSUPPORTED_PARAMETER, key + (value == null ? "" : "=" + value));
            // RFC 8689 §4.1: offered only over TLS, and it takes no value.
            case "REQUIRETLS" -> s.tls.active && value == null ? null
                    : Answer.error(Reply.UNSUPPORTED_PARAMETER, key + (value == null ? "" : "=" + value));
            default -> Answer.error(Reply.UNSUPPORTED_PARAMETER, key);
        };
    }
}
