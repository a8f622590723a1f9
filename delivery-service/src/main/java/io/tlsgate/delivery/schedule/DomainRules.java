package io.tlsgate.delivery.schedule;

import io.grpc.StatusRuntimeException;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.IpPreference;
import io.tlsgate.core.sts.MtaStsPolicy;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.delivery.dane.Dane;
import io.tlsgate.delivery.limits.DestinationLimits;
import io.tlsgate.delivery.queue.TlsRequest;
import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.delivery.smtp.DaneRule;
import io.tlsgate.delivery.smtp.DomainDelivery;
import io.tlsgate.delivery.sts.MtaSts;
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
import org.jboss.logging.Logger;

/** The delivery phase that asks the other services: what one domain's delivery must follow. */
final class DomainRules {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");

    /**
     * What one domain's delivery needs, fetched once per group: {@code tlsFor} are the rules
     * with DANE and MTA-STS applied, {@code ownTlsFor} the destination controls' alone, and
     * {@code sts} the MTA-STS policy that applies (null when none does).
     */
    record Rules(OutboundSettings settings, OutboundPolicy policy, BounceProfile profile, DomainDelivery.Tls tls,
            DomainDelivery.TlsRules tlsFor, DomainDelivery.Plan plan, DestinationLimits limits,
            DomainDelivery.TlsRules ownTlsFor, MtaStsPolicy sts) {

        Rules(OutboundSettings settings, OutboundPolicy policy, BounceProfile profile, DomainDelivery.Tls tls,
                DomainDelivery.TlsRules tlsFor, DomainDelivery.Plan plan, DestinationLimits limits) {
            this(settings, policy, profile, tls, tlsFor, plan, limits, tlsFor, null);
        }

        Rules with(DomainDelivery.TlsRules rules) {
            return new Rules(settings, policy, profile, tls, rules, plan, limits, ownTlsFor, sts);
        }
    }

    private final PolicyClient policy;
    private final CertClient certs;
    private final DomainDelivery delivery;
    /** Null when MTA-STS is off ({@code tlsgate.delivery.mta-sts.enabled=false}). */
    private final MtaSts mtaSts;
    /** Null when DANE is off ({@code tlsgate.delivery.dane.enabled=false}). */
    private final Dane dane;

    DomainRules(PolicyClient policy, CertClient certs, DomainDelivery delivery, MtaSts mtaSts, Dane dane) {
        this.policy = policy;
        this.certs = certs;
        this.delivery = delivery;
        this.mtaSts = mtaSts;
        this.dane = dane;
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
        boolean useDns = route.getUseDns() || route.getHopsCount() == 0;
        MtaSts.Lookup sts = MtaSts.Lookup.NONE;
        if (mtaSts != null && !p.getIgnoreMtaSts() && useDns) {
            sts = mtaSts.lookup(domain, () -> material(settings).trust().anchors());
        }
        // enforce: only the MX hosts the policy names, before the MX host limit applies
        MtaStsPolicy enforced = sts.applies() && sts.policy().mode() == MtaStsPolicy.Mode.ENFORCE ? sts.policy() : null;
        List<String> routeHosts = route.getHopsList().stream().map(NextHop::getHost).toList();
        List<Integer> routePorts = route.getHopsList().stream().map(NextHop::getPort).toList();
        Map<String, Dane.Host> tlsa = Map.of();
        DomainDelivery.Plan plan;
        if (dane != null && !p.getIgnoreDane() && useDns && dane.available()) {
            // DANE: MX hosts and addresses from validated answers, then each secure host's TLSA records
            plan = delivery.plan(domain, routeHosts, routePorts, true, preference(p), mx -> true, dane.mx());
            tlsa = tlsa(plan);
            if (!tlsa.isEmpty() && sts.applies()) {
                LOG.infof("MTA-STS %s: %s: not applied, the domain's MX hosts have DANE TLSA records (DANE first, RFC 8461 §2)",
                        domain, sts.source());
                sts = MtaSts.Lookup.NONE;
            } else if (enforced != null) {
                plan = delivery.plan(domain, routeHosts, routePorts, true, preference(p), enforced::allows, dane.mx());
            }
        } else {
            plan = delivery.plan(domain, routeHosts, routePorts, useDns, preference(p), enforced == null ? mx -> true
                    : enforced::allows);
        }
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
        DomainDelivery.TlsRules tlsFor = (h, a) -> byAddress.getOrDefault(a, domainTls);
        if (!tlsa.isEmpty()) {
            return new Rules(settings, p, profile(settings, p.getBounceProfile()), domainTls, withDane(tlsFor, tlsa), plan,
                    DestinationLimits.of(p), tlsFor, null);
        }
        if (sts.applies()) {
            Rules r = withMtaSts(domain, settings, p, domainTls, tlsFor, plan, sts);
            return new Rules(r.settings(), p, r.profile(), domainTls, r.tlsFor(), r.plan(), r.limits(), tlsFor, sts.policy());
        }
        return new Rules(settings, p, profile(settings, p.getBounceProfile()), domainTls, tlsFor, plan, DestinationLimits.of(p));
    }

    /**
     * The rules for messages whose sender asked something of their transport (RFC 8689):
     * {@code TLS-Required: No} drops DANE and MTA-STS (the destination controls stay);
     * REQUIRETLS needs verified TLS on every connection: DANE's, a verify mode's, or, for an
     * MX host that an MTA-STS policy names or whose MX and address records are DNSSEC-secure,
     * {@code REQUIRED_VERIFY} with the MX host name as the identity (RFC 8689 §4.2.1); a host
     * with none of these, and every SMTP route host without a verify mode, refuses such
     * messages for good ({@code 550 5.7.30}). Called on a worker thread.
     *
     * @throws Unavailable when cert-service is needed for the trust anchors and cannot answer
     */
    Rules forRequest(Rules rules, TlsRequest request) {
        return switch (request) {
            case NORMAL -> rules;
            case TLS_OPTIONAL -> rules.with(rules.ownTlsFor());
            case REQUIRE_TLS -> {
                CertClient.Material m = material(rules.settings());
                MtaStsPolicy sts = rules.sts();
                DomainDelivery.TlsRules base = rules.tlsFor();
                yield rules.with((h, a) -> {
                    DomainDelivery.Tls t = base.of(h, a);
                    if (t.refusal() != null || t.dane() != null || t.mode().requiresVerifiedCertificate()) {
                        return t.withRequireTls();
                    }
                    if (!h.route() && (h.secure() || (sts != null && sts.allows(h.name())))) {
                        return new DomainDelivery.Tls(OutboundTlsMode.REQUIRED_VERIFY, "requiretls", m.trust(), m.clientKey(), true)
                                .withRequireTls();
                    }
                    String why = "REQUIRETLS: no verified TLS for " + h.name() + " (no DANE, no MTA-STS policy naming it, not a"
                            + " verify mode, " + (h.route() ? "an SMTP route host)" : "MX records not DNSSEC-secure)");
                    return t.withRequireTls().refused(OutboundTlsMode.REQUIRED_VERIFY, new DomainDelivery.Refusal(
                            TlsResultType.VALIDATION_FAILURE, why, "550 5.7.30 REQUIRETLS support required: " + why));
                });
            }
        };
    }

    /**
     * The TLSA outcome of each secure MX host of the plan that DANE says something about
     * (RFC 7672 §2.2): usable records, only unusable ones, or a failed lookup. Empty: DANE
     * does not apply to this domain (its MX records or hosts are not DNSSEC-secure, or no host
     * has TLSA records).
     */
    private Map<String, Dane.Host> tlsa(DomainDelivery.Plan plan) {
        Map<String, Dane.Host> out = new HashMap<>();
        for (DomainDelivery.Hop h : plan.hops()) {
            if (!h.route() && h.secure() && !out.containsKey(h.name())) {
                Dane.Host found = dane.tlsa(h.name(), h.port(), true);
                if (found.kind() != Dane.Kind.NONE) {
                    out.put(h.name(), found);
                }
            }
        }
        return out;
    }

    /**
     * Each connection's rules under DANE, per MX host (the destination controls stay the floor,
     * which DANE only raises): usable TLSA records make TLS mandatory and the certificate must
     * match one of them (and pass the entry's own verify mode too when that mode requires a
     * verified certificate); only unusable records make TLS mandatory without authentication
     * ({@code REQUIRED}); a failed or bogus TLSA lookup keeps the host from being used. Hosts
     * without TLSA records and SMTP route hops keep their rules.
     */
    private static DomainDelivery.TlsRules withDane(DomainDelivery.TlsRules tlsFor, Map<String, Dane.Host> tlsa) {
        return (h, a) -> {
            DomainDelivery.Tls current = tlsFor.of(h, a);
            Dane.Host d = h.route() ? null : tlsa.get(h.name());
            if (d == null) {
                return current;
            }
            String source = "dane TLSA " + d.tlsaName();
            return switch (d.kind()) {
                case USABLE -> {
                    boolean pkixToo = current.mode().requiresVerifiedCertificate();
                    yield new DomainDelivery.Tls(pkixToo ? current.mode() : OutboundTlsMode.REQUIRED_VERIFY, source, current.trust(),
                            current.clientKey(), false, new DaneRule(d.tlsaName(), d.records(), pkixToo));
                }
                case UNUSABLE -> current.mode().requiresTls() ? current : new DomainDelivery.Tls(OutboundTlsMode.REQUIRED,
                        source + " (no usable record)", current.trust(), current.clientKey());
                case FAILED -> new DomainDelivery.Tls(current.mode(), source, current.trust(), current.clientKey()).refused(
                        current.mode().requiresVerifiedCertificate() ? current.mode() : OutboundTlsMode.REQUIRED_VERIFY,
                        new DomainDelivery.Refusal(d.failure(), "DANE: " + d.detail(), null));
                case NONE -> current;
            };
        };
    }

    /**
     * A domain's rules under its MTA-STS policy (RFC 8461 §5), which only ever raises what the
     * destination controls ask: in {@code enforce} mode only MX hosts the policy names are used
     * (none left: the mail waits), and every connection to one needs TLS with a certificate
     * that verifies and names that MX host; in {@code testing} mode a {@code PREFERRED}
     * connection checks the certificate the same way but delivers whatever the check says (the
     * failures are in the events and the mail log). SMTP route hops are the operator's: the
     * policy does not touch them.
     */
    private Rules withMtaSts(String domain, OutboundSettings settings, OutboundPolicy p, DomainDelivery.Tls domainTls,
            DomainDelivery.TlsRules tlsFor, DomainDelivery.Plan plan, MtaSts.Lookup sts) {
        MtaStsPolicy policy = sts.policy();
        boolean enforce = policy.mode() == MtaStsPolicy.Mode.ENFORCE;
        // enforce: the plan has only the MX hosts the policy names (the others are in refusedMx)
        List<String> refused = enforce ? plan.refusedMx() : plan.hops().stream().filter(h -> !h.route()
                && !policy.allows(h.name())).map(DomainDelivery.Hop::name).toList();
        DomainDelivery.Plan applied = plan;
        if (!refused.isEmpty()) {
            LOG.infof("MTA-STS %s: %s: MX host(s) %s not named by the policy's mx %s%s", domain, sts.source(), refused,
                    policy.mx(), enforce ? ": not used" : " (testing: used)");
        }
        if (enforce && !refused.isEmpty() && plan.hops().isEmpty()) {
            applied = new DomainDelivery.Plan(List.of(), plan.mxNames(), "MTA-STS policy of " + domain + " (" + sts.source()
                    + ") names none of its MX hosts " + refused + " (mx " + policy.mx() + ")", false, refused);
        }
        CertClient.Material material;
        try {
            material = material(settings);
        } catch (Unavailable e) {
            if (enforce) {
                throw e; // nobody can check the certificates the policy requires: the mail waits
            }
            LOG.warnf("MTA-STS %s: %s: cert-service unavailable, certificates not checked for the report", domain, sts.source());
            return new Rules(settings, p, profile(settings, p.getBounceProfile()), domainTls, tlsFor, applied,
                    DestinationLimits.of(p));
        }
        CertClient.Material m = material;
        // Per hop and address: an SMTP route hop at the same address as an MX host keeps its own rules.
        DomainDelivery.TlsRules withSts = (h, a) -> {
            DomainDelivery.Tls current = tlsFor.of(h, a);
            OutboundTlsMode mode = h.route() ? null : raise(current.mode(), enforce);
            return mode == null ? current : new DomainDelivery.Tls(mode, sts.source(), m.trust(), m.clientKey(), true);
        };
        return new Rules(settings, p, profile(settings, p.getBounceProfile()), domainTls, withSts, applied, DestinationLimits.of(p));
    }

    /**
     * The mode a connection gets under MTA-STS: {@code enforce} requires TLS and a verified
     * certificate ({@code REQUIRED_VERIFY}, or the hosted variant when that was the mode);
     * {@code testing} turns {@code PREFERRED} into {@code PREFERRED_VERIFY} (the same TLS, its
     * certificate checked and reported, delivered whatever the check says) and leaves the other
     * modes (null) as they are: {@code NONE} stays in plaintext, since a TLS attempt could fail
     * where plaintext would have delivered.
     */
    static OutboundTlsMode raise(OutboundTlsMode mode, boolean enforce) {
        if (enforce) {
            return mode == OutboundTlsMode.REQUIRED_VERIFY_HOSTED_DOMAINS ? mode : OutboundTlsMode.REQUIRED_VERIFY;
        }
        return mode == OutboundTlsMode.PREFERRED ? OutboundTlsMode.PREFERRED_VERIFY : null;
    }

    /** cert-service's trust anchors and client key for the verify modes, or {@link Unavailable}. */
    private CertClient.Material material(OutboundSettings settings) {
        try {
            return certs.material(settings.getCertificateSlot(), settings.getTrustedCaMode());
        } catch (StatusRuntimeException | IllegalStateException e) {
            throw new Unavailable("451 4.4.3 cert-service unavailable: " + e.getMessage());
        }
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
