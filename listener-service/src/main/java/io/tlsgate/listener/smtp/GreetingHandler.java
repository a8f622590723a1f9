package io.tlsgate.listener.smtp;

import io.tlsgate.platform.dns.ReverseDns;
import io.tlsgate.proto.policy.v1.InboundPolicy;
import java.net.InetAddress;

/**
 * The connection phase: the client's reverse-DNS name (PTR, forward-confirmed, within the
 * listener's budget), then the host access table (policy-service), then the greeting the
 * sender group's behaviour asks for: 220 (ACCEPT, RELAY), 554 and only QUIT after it (REJECT),
 * or none at all (TCPREFUSE). 421 when the policy cannot be looked up.
 */
final class GreetingHandler {

    private final Upstream upstream;

    GreetingHandler(Upstream upstream) {
        this.upstream = upstream;
    }

    Answer connect(SessionState s, InetAddress client) {
        return Answer.later(upstream.reverseDns(client), (r, ignored) -> {
            s.rdns = r == null ? ReverseDns.Result.UNKNOWN : r;
            return Answer.later(upstream.inbound(s.listener.getName(), s.ip, s.rdns.verified() ? s.rdns.host() : ""),
                    (p, failed) -> greet(s, p, failed));
        });
    }

    private static Answer greet(SessionState s, InboundPolicy p, Throwable failed) {
        MailLog.connected(s);
        if (failed != null) {
            MailLog.policyFailed(s, MailLog.message(failed));
            return Answer.closing(Reply.POLICY_UNAVAILABLE, s.listener.getHostname());
        }
        s.policy(p);
        MailLog.matched(s);
        return switch (p.getPolicy().getBehaviour()) {
            case TCPREFUSE -> Answer.hangUp();
            case REJECT -> {
                s.phase = SessionState.Phase.REJECTED;
                yield Answer.reply(Reply.REJECTED_GREETING, s.listener.getHostname());
            }
            default -> {
                s.phase = SessionState.Phase.OPEN;
                yield Answer.reply(Reply.GREETING, s.listener.getHostname());
            }
        };
    }
}
