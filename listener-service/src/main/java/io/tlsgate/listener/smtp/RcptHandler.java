package io.tlsgate.listener.smtp;

import io.tlsgate.core.dns.DomainName;
import io.tlsgate.core.smtp.BounceTags;
import io.tlsgate.platform.bounce.BounceVerification;
import io.tlsgate.proto.policy.v1.Behaviour;
import java.util.Set;

/**
 * RCPT TO: adds a recipient. Needs MAIL first; no parameters; ASCII only; at most the policy's
 * recipients per message (452, the client sends the rest later). A client whose policy is
 * RELAY may send anywhere; any other only to domains the recipient access table accepts
 * (asked of policy-service; 550 5.7.1 otherwise, 451 when it cannot answer). An address
 * literal as the domain is never in the RAT.
 *
 * <p>Bounce verification (docs/bounce-verification.md), for clients that are not RELAY: a
 * recipient with a valid tag is queued without it; a bounce (null sender) to a recipient whose
 * tag is bad or expired is refused, and so is one to an untagged recipient when untagged
 * bounces are refused (postmaster excepted, RFC 5321 §4.5.1).
 */
final class RcptHandler implements CommandHandler {

    private final Upstream upstream;
    private final BounceVerification bounce;

    RcptHandler(Upstream upstream, BounceVerification bounce) {
        this.upstream = upstream;
        this.bounce = bounce;
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
        BounceTags.Checked checked = bounce.check(p.address());
        boolean isBounce = s.mailFrom.isEmpty();
        if (isBounce && checked.verdict() == BounceTags.Verdict.INVALID) {
            MailLog.bounceRejected(s, p.address(), "invalid or expired tag");
            return Answer.reply(Reply.BOUNCE_TAG_INVALID, p.address());
        }
        if (isBounce && checked.verdict() == BounceTags.Verdict.UNTAGGED && bounce.rejectUntagged() && !postmaster(p.address())) {
            MailLog.bounceRejected(s, p.address(), "untagged");
            return Answer.reply(Reply.BOUNCE_UNTAGGED, p.address());
        }
        String recipient = checked.verdict() == BounceTags.Verdict.VALID ? checked.address() : p.address();
        return Answer.later(upstream.recipientAccepted(domain), (accepted, failed) -> {
            if (failed != null) {
                MailLog.recipientLookupFailed(s, p.address(), MailLog.message(failed));
                return Answer.reply(Reply.LOOKUP_FAILED);
            }
            if (!accepted) {
                return relayDenied(s, p.address());
            }
            if (!recipient.equals(p.address())) {
                MailLog.bounceVerified(s, p.address(), recipient);
            }
            s.recipients.add(recipient);
            return Answer.reply(Reply.RECIPIENT_OK);
        });
    }

    private static boolean postmaster(String address) {
        int at = address.lastIndexOf('@');
        return at > 0 && address.substring(0, at).equalsIgnoreCase("postmaster");
    }

    private static Answer relayDenied(SessionState s, String address) {
        MailLog.relayDenied(s, address);
        return Answer.reply(Reply.RELAY_DENIED, address);
    }
}
