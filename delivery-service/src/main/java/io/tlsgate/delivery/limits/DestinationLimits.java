package io.tlsgate.delivery.limits;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.proto.policy.v1.LimitsApplyPer;
import io.tlsgate.proto.policy.v1.LimitsScope;
import io.tlsgate.proto.policy.v1.OutboundPolicy;
import java.net.InetAddress;
import java.time.Duration;

/**
 * A destination's delivery limits from its policy entry: at most {@code connections}
 * connections at once and, when {@code recipients} is not negative, that many recipients per
 * {@code perMinutes} minutes; counted per domain or per MX address ({@code perMxIp}), by every
 * replica together ({@code cluster}, limitsScope SYSTEM) or by each replica on its own
 * (VIRTUAL_GATEWAY: each replica is one sending gateway).
 */
public record DestinationLimits(int connections, int recipients, int perMinutes, boolean perMxIp, boolean cluster) {

    /** No limit at all (tests and tools). */
    public static final DestinationLimits NONE = new DestinationLimits(Integer.MAX_VALUE, -1, 1, false, false);

    public static DestinationLimits of(OutboundPolicy p) {
        boolean rate = p.hasRecipientLimit();
        return new DestinationLimits(p.getMaxConcurrentConnections() > 0 ? p.getMaxConcurrentConnections() : 500,
                rate ? p.getRecipientLimit().getRecipients() : -1, rate ? Math.max(1, p.getRecipientLimit().getPerMinutes()) : 1,
                p.getLimitsApplyPer() == LimitsApplyPer.MX_IP, p.getLimitsScope() != LimitsScope.VIRTUAL_GATEWAY);
    }

    /** Whether recipients are rate limited. */
    public boolean rated() {
        return recipients >= 0;
    }

    /** The time one recipient takes out of the rate (N per M minutes: M/N minutes). */
    public Duration spacing() {
        return recipients <= 0 ? Duration.ofMinutes(perMinutes) : Duration.ofMinutes(perMinutes).dividedBy(recipients);
    }

    /** The key the limits count under: the domain, or the address a connection goes to. */
    public String key(String domain, InetAddress address) {
        return perMxIp && address != null ? "ip:" + DestinationKey.format(address.getAddress()) : "domain:" + domain;
    }

    /** How the limits count, for log lines ("per domain, all replicas"). */
    public String scope() {
        return (perMxIp ? "per MX address" : "per domain") + ", " + (cluster ? "all replicas" : "this replica");
    }
}
