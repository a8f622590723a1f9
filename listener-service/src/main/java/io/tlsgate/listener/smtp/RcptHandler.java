package io.tlsgate.listener.smtp;

import io.tlsgate.core.dns.DomainName;
import io.tlsgate.proto.policy.v1.Behaviour;
import java.util.Set;

/**
 * RCPT TO: adds a recipient. Needs MAIL first; no parameters; ASCII only; at most the policy's
 * recipients per message (452, the client sends the rest later). A client whose policy is
 * RELAY may send anywhere; any other only to domains the recipient access table accepts
 * (asked of policy-service; 550 5.7.1 otherwise, 451 when it cannot answer). An address
 * literal as the domain is never in the RAT.
 */
final class RcptHandler implements CommandHandler {

    private final Upstream upstream;

    RcptHandler(Upstream upstream) {
        this.upstream = upstream;
    }

    @Override
    public Set<String> verbs() {
        return Set.of("RCPT");
    }

    @Override
    public Answer handle(SessionState s, String verb, String arg) {
        if (!s.inTransaction) {
            return Answer.error(Reply.NEED_MAIL);
        }
        SmtpCommand.PathArgs p;
        try {
            p = SmtpCommand.parse(arg, "TO:", false);
        } catch (SmtpCommand.Invalid e) {
            return Answer.error(e.syntax() ? Reply.RCPT_SYNTAX : Reply.BAD_RECIPIENT);
        }
        if (!p.params().isEmpty()) {
            return Answer.error(Reply.UNSUPPORTED_PARAMETER, p.params().keySet().iterator().next());
        }
        if (!p.ascii()) {
            return Answer.error(Reply.NON_ASCII_ADDRESS);
        }
        if (s.recipients.size() >= s.policy.getPolicy().getMaxRecipientsPerMessage()) {
            return Answer.reply(Reply.TOO_MANY_RECIPIENTS);
        }
        if (s.policy.getPolicy().getBehaviour() == Behaviour.RELAY) {
            s.recipients.add(p.address());
            return Answer.reply(Reply.RECIPIENT_OK);
        }
        String domain;
        try {
            domain = p.domain().startsWith("[") ? null : DomainName.normalise(p.domain());
        } catch (IllegalArgumentException e) {
            domain = null;
        }
        if (domain == null) {
            return relayDenied(s, p.address());
        }
        return Answer.later(upstream.recipientAccepted(domain), (accepted, failed) -> {
            if (failed != null) {
                MailLog.recipientLookupFailed(s, p.address(), MailLog.message(failed));
                return Answer.reply(Reply.LOOKUP_FAILED);
            }
            if (!accepted) {
                return relayDenied(s, p.address());
            }
            s.recipients.add(p.address());
            return Answer.reply(Reply.RECIPIENT_OK);
        });
    }

    private static Answer relayDenied(SessionState s, String address) {
        MailLog.relayDenied(s, address);
        return Answer.reply(Reply.RELAY_DENIED, address);
    }
}
