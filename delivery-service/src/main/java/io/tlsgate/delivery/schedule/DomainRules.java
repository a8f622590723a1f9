package io.tlsgate.delivery.schedule;

import io.grpc.StatusRuntimeException;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.IpPreference;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.delivery.limits.DestinationLimits;
import io.tlsgate.delivery.smtp.DomainDelivery;
import io.tlsgate.delivery.upstream.CertClient;
import io.tlsgate.delivery.upstream.PolicyClient;
import io.tlsgate.proto.policy.v1.BounceProfile;
import io.tlsgate.proto.policy.v1.NextHop;
import io.tlsgate.proto.policy.v1.OutboundPolicy;
import io.tlsgate.proto.policy.v1.OutboundSettings;
import io.tlsgate.proto.policy.v1.Route;
import io.tlsgate.platform.tls.PeerTrust;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.jboss.logging.Logger;

/** The delivery phase that asks the other services: what one domain's delivery must follow. */
final class DomainRules {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");

    /** What one domain's delivery needs, fetched once per group. */
    record Rules(OutboundSettings settings, OutboundPolicy policy, BounceProfile profile, DomainDelivery.Tls tls,
            Function<InetAddress, DomainDelivery.Tls> tlsFor, DomainDelivery.Plan plan, DestinationLimits limits) {}

    private final PolicyClient policy;
    private final CertClient certs;
    private final DomainDelivery delivery;

    DomainRules(PolicyClient policy, CertClient certs, DomainDelivery delivery) {
        this.policy = policy;
        this.certs = certs;
        this.delivery = delivery;
    }

    /**
     * The rules for one domain: its outbound settings, policy, route and bounce profile from
     * policy-service, its TLS rules (with cert-service's anchors and client key), its next hops
     * (DNS) and limits; for a domain with no entry of its own, the TLS rules of every address
     * of the plan that an IP or CIDR entry covers, asked here so the connections (on the event
     * loop) never wait for policy-service.
     *
     * @throws Unavailable when policy-service or (for a verify mode) cert-service cannot answer:
     *     nobody knows then whether TLS is required, so the work waits rather than guesses
     */
    Rules of(String domain) {
        OutboundSettings settings;
        OutboundPolicy p;
        Route route;
        try {
            settings = policy.settings();
            p = policy.outbound(domain);
            route = policy.route(domain);
        } catch (StatusRuntimeException e) {
            throw new Unavailable("451 4.4.3 policy-service unavailable: " + e.getStatus().getCode());
        }
        DomainDelivery.Tls domainTls = tls(settings, p);
        DomainDelivery.Plan plan = delivery.plan(domain, route.getHopsList().stream().map(NextHop::getHost).toList(),
                route.getHopsList().stream().map(NextHop::getPort).toList(), route.getUseDns() || route.getHopsCount() == 0,
                preference(p));
        Map<InetAddress, DomainDelivery.Tls> byAddress = new HashMap<>();
        if ("default".equals(p.getMatchedKey())) {
            try {
                for (DomainDelivery.Hop h : plan.hops()) {
                    for (InetAddress a : h.addresses()) {
                        if (!byAddress.containsKey(a)) {
                            OutboundPolicy forAddress = policy.outbound(domain, DestinationKey.format(a.getAddress()));
                            byAddress.put(a, "default".equals(forAddress.getMatchedKey()) ? domainTls : tls(settings, forAddress));
                        }
                    }
                }
            } catch (StatusRuntimeException e) {
                throw new Unavailable("451 4.4.3 policy-service unavailable: " + e.getStatus().getCode());
            }
        }
        return new Rules(settings, p, profile(settings, p.getBounceProfile()), domainTls,
                a -> byAddress.getOrDefault(a, domainTls), plan, DestinationLimits.of(p));
    }

    /** An upstream service is away and the rules cannot be known: the work waits; the message is the reply to record. */
    static final class Unavailable extends RuntimeException {
        Unavailable(String reply) {
            super(reply, null, false, false);
        }
    }

    /**
     * A policy's TLS rules: its mode and source, and for the TLS modes the trust anchors and
     * client key from cert-service. Without cert-service a verify mode cannot be honoured
     * ({@link Unavailable}); the other TLS modes go on without a client certificate.
     */
    private DomainDelivery.Tls tls(OutboundSettings settings, OutboundPolicy p) {
        OutboundTlsMode mode = OutboundTlsMode.valueOf(p.getTls().name());
        String source = p.getSourcesOrDefault("tls", p.getMatchedKey());
        if (!mode.attemptsTls()) {
            return new DomainDelivery.Tls(mode, source, PeerTrust.NONE, null);
        }
        try {
            CertClient.Material tls = certs.material(settings.getCertificateSlot(), settings.getTrustedCaMode());
            return new DomainDelivery.Tls(mode, source, tls.trust(), tls.clientKey());
        } catch (StatusRuntimeException | IllegalStateException e) {
            if (mode.verifiesCertificate()) {
                throw new Unavailable("451 4.4.3 cert-service unavailable: " + e.getMessage());
            }
            LOG.warnf("cert-service unavailable (%s): %s mode goes on without a client certificate", e.getMessage(), mode);
            return new DomainDelivery.Tls(mode, source, PeerTrust.NONE, null);
        }
    }

    private static BounceProfile profile(OutboundSettings s, String name) {
        return s.getBounceProfilesList().stream().filter(b -> b.getName().equals(name)).findFirst()
                .or(() -> s.getBounceProfilesList().stream().filter(b -> b.getName().equals("default")).findFirst())
                .orElse(BounceProfile.newBuilder().setName("built-in").setMaxRetries(100).setMaxTimeInQueueSeconds(5 * 86_400)
                        .setInitialRetrySeconds(60).setMaxRetrySeconds(3600).setSendHardBounces(true).build());
    }

    private static IpPreference preference(OutboundPolicy p) {
        return switch (p.getIpPreference()) {
            case IPV4_ONLY -> IpPreference.IPV4_ONLY;
            case IPV6_ONLY -> IpPreference.IPV6_ONLY;
            case IPV6_PREFERRED -> IpPreference.IPV6_PREFERRED;
            default -> IpPreference.IPV4_PREFERRED;
        };
    }
}
