package io.tlsgate.policy.sts;

import io.tlsgate.core.sts.MtaStsPolicy;
import java.time.Instant;
import java.util.List;

/**
 * An MTA-STS policy this gateway publishes for one of its own domains, with what the domain's
 * DNS must say for senders to find it.
 *
 * @param policyId the id the {@code _mta-sts} TXT record must carry; new with every change
 */
public record HostedPolicy(String domain, String mode, List<String> mx, long maxAgeSeconds, String policyId, Instant updatedAt) {

    static HostedPolicy of(String domain, MtaStsPolicy p, String policyId, Instant updatedAt) {
        return new HostedPolicy(domain, p.mode().wire(), p.mx(), p.maxAgeSeconds(), policyId, updatedAt);
    }

    /** The TXT record to publish at {@code _mta-sts.<domain>}. */
    public String txtRecord() {
        return "v=STSv1; id=" + policyId + ";";
    }

    /** Where senders fetch the policy; {@code mta-sts.<domain>} must point at this gateway's HTTPS port 443. */
    public String policyUrl() {
        return "https://mta-sts." + domain + "/.well-known/mta-sts.txt";
    }

    MtaStsPolicy policy() {
        return new MtaStsPolicy(MtaStsPolicy.Mode.valueOf(mode.toUpperCase(java.util.Locale.ROOT)), mx, maxAgeSeconds);
    }
}
