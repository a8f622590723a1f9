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

/**
 * The delivery phase that asks the other services: what one domain's delivery must follow.
 * The TLS check ({@code io.tlsgate.delivery.check}) asks the same, so that what it judges is
 * what a delivery would do.
 */
public final class DomainRules {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");

    /**
     * What one domain's delivery needs, fetched once per group: {@code tlsFor} are the rules
     * with DANE and MTA-STS applied, {@code ownTlsFor} the destination controls' alone, and
     * {@code sts} the MTA-STS policy that applies (null when none does).
     */
    public record Rules(OutboundSettings settings, OutboundPolicy policy, BounceProfile profile, DomainDelivery.Tls tls,
            DomainDelivery.TlsRules tlsFor, DomainDelivery.Plan plan, DestinationLimits limits,
            DomainDelivery.TlsRules ownTlsFor, MtaStsPolicy sts, java.util.function.Supplier<DomainDelivery.Plan> ownPlan) {

        Rules(OutboundSettings settings, OutboundPolicy policy, BounceProfile profile, DomainDelivery.Tls tls,
                DomainDelivery.TlsRules tlsFor, DomainDelivery.Plan plan, DestinationLimits limits) {
            this(settings, policy, profile, tls, tlsFor, plan, limits, tlsFor, null, () -> null);
        }

        Rules with(DomainDelivery.TlsRules rules) {
            return new Rules(settings, policy, profile, tls, rules, plan, limits, ownTlsFor, sts, ownPlan);
        }

        /** The destination controls' own rules and plan: neither DANE nor MTA-STS. */
        Rules own() {
            DomainDelivery.Plan own = ownPlan.get();
            return new Rules(settings, policy, profile, tls, ownTlsFor, own == null ? plan : own, limits, ownTlsFor, null,
                    ownPlan);
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
    public Rules of(String domain) {
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
        IpPreference pref = preference(p);
        if (dane != null && !p.getIgnoreDane() && useDns && dane.available()) {
            // DANE: MX hosts and addresses from validated answers, then each secure host's TLSA records
            plan = delivery.plan(domain, routeHosts, routePorts, true, pref, mx -> true, dane.mx());
            tlsa = tlsa(plan);
            if (enforced != null) {
                // MTA-STS enforce still picks the MX hosts, but a host DANE authenticates may be used too (DANE first)
                Map<String, Dane.Host> t = tlsa;
                plan = delivery.plan(domain, routeHosts, routePorts, true, pref, mx -> enforced.allows(mx)
                        || (t.containsKey(mx) && t.get(mx).kind() == Dane.Kind.USABLE), dane.mx());
            }
        } else {
            plan = delivery.plan(domain, routeHosts, routePorts, useDns, pref, enforced == null ? mx -> true
                    : enforced::allows);
        }
        // For messages that ask for neither DANE nor MTA-STS (TLS-Required: No): every MX host, looked up as usual.
        java.util.function.Supplier<DomainDelivery.Plan> ownPlan = enforced == null && tlsa.isEmpty() ? () -> null
                : () -> delivery.plan(domain, routeHosts, routePorts, useDns, pref, mx -> true);
        DomainDelivery.TlsRules tlsFor = byAddress(domain, settings, p, domainTls, plan);
        Rules r = sts.applies() ? withMtaSts(domain, settings, p, domainTls, tlsFor, plan, sts)
                : new Rules(settings, p, profile(settings, p.getBounceProfile()), domainTls, tlsFor, plan, DestinationLimits.of(p));
        DomainDelivery.TlsRules applied = tlsa.isEmpty() ? r.tlsFor() : withDane(r.tlsFor(), tlsFor, tlsa);
        return new Rules(settings, p, r.profile(), domainTls, applied, r.plan(), r.limits(), tlsFor,
                sts.applies() ? sts.policy() : null, ownPlan);
    }

    /**
     * The TLS mode for each next-hop address: when the domain only matched {@code default},
     * an IP or CIDR entry for the address comes next in the match order; else the domain's.
     */
    private DomainDelivery.TlsRules byAddress(String domain, OutboundSettings settings, OutboundPolicy p,
            DomainDelivery.Tls domainTls, DomainDelivery.Plan plan) {
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
        return (h, a) -> byAddress.getOrDefault(a, domainTls);
    }

    /**
     * The rules for mail an operator redirected to {@code host} ({@code host}, {@code host:port},
     * {@code [address]} or {@code [address]:port}): the domain's destination entry (its TLS mode
     * and limits; an IP or CIDR entry for the host's address when the domain only matched
     * {@code default}), one hop to that host as for an SMTP route (verified by its name in the
     * verify modes); neither DANE nor MTA-STS, which name the domain's own MX hosts.
     *
     * @throws Unavailable when policy-service or (for a verify mode) cert-service cannot answer
     */
    public Rules redirected(String domain, String host) {
        OutboundSettings settings;
        OutboundPolicy p;
        try {
            settings = policy.settings();
            p = policy.outbound(domain);
        } catch (StatusRuntimeException e) {
            throw new Unavailable("451 4.4.3 policy-service unavailable: " + e.getStatus().getCode());
        }
        DomainDelivery.Tls tls = tls(settings, p);
        int colon = host.lastIndexOf(':');
        boolean hasPort = colon > 0 && (host.startsWith("[") ? host.charAt(colon - 1) == ']' : host.indexOf(':') == colon);
        String name = hasPort ? host.substring(0, colon) : host;
        int port = hasPort ? Integer.parseInt(host.substring(colon + 1)) : 0;
        DomainDelivery.Plan plan = delivery.plan(domain, List.of(name), List.of(port), false, preference(p));
        return new Rules(settings, p, profile(settings, p.getBounceProfile()), tls, byAddress(domain, settings, p, tls, plan), plan,
                DestinationLimits.of(p));
    }

    /**
     * The rules for a connection straight to {@code address} (the TLS check of an address):
     * the destination controls' entry for it (IP or CIDR entry, else {@code default}), one hop
     * at {@code port}; neither DANE nor MTA-STS (they belong to domains).
     *
     * @throws Unavailable when policy-service or (for a verify mode) cert-service cannot answer
     */
    public Rules forAddress(InetAddress address, int port) {
        OutboundSettings settings;
        OutboundPolicy p;
        try {
            settings = policy.settings();
            p = policy.outbound(address.getHostAddress(), DestinationKey.format(address.getAddress()));
        } catch (StatusRuntimeException e) {
            throw new Unavailable("451 4.4.3 policy-service unavailable: " + e.getStatus().getCode());
        }
        DomainDelivery.Tls tls = tls(settings, p);
        String literal = address instanceof java.net.Inet6Address ? "[" + address.getHostAddress() + "]" : address.getHostAddress();
        DomainDelivery.Plan plan = new DomainDelivery.Plan(List.of(new DomainDelivery.Hop(literal, List.of(address), port, true)),
                List.of(), null, false);
        return new Rules(settings, p, profile(settings, p.getBounceProfile()), tls, (h, a) -> tls, plan, DestinationLimits.of(p));
    }

    /**
     * The rules for messages whose sender asked something of their transport (RFC 8689):
     * {@code TLS-Required: No} drops DANE and MTA-STS (the destination controls stay, every MX
     * host is used); REQUIRETLS needs verified TLS on every connection: DANE's; for an MX host
     * that an MTA-STS policy names or whose MX and address records are DNSSEC-secure,
     * {@code REQUIRED_VERIFY} with exactly the MX host name as the identity (RFC 8689 §4.2.1);
     * for an SMTP route host, the entry's verify mode. Any other host refuses such messages;
     * when every host did, they are returned ({@code 550 5.7.30}). Called on a worker thread.
     *
     * @throws Unavailable when cert-service is needed for the trust anchors and cannot answer
     */
    Rules forRequest(Rules rules, TlsRequest request) {
        return switch (request) {
            case NORMAL -> rules;
            case TLS_OPTIONAL -> rules.own();
            case REQUIRE_TLS -> {
                CertClient.Material m = material(rules.settings());
                MtaStsPolicy sts = rules.sts();
                DomainDelivery.TlsRules base = rules.tlsFor();
                yield rules.with((h, a) -> {
                    DomainDelivery.Tls t = base.of(h, a);
                    if (t.refusal() != null || t.dane() != null) {
                        return t.withRequireTls(); // DANE authenticates (or refuses) this host
                    }
                    if (h.route()) {
                        if (t.mode().requiresVerifiedCertificate()) {
                            return t.withRequireTls(); // the operator's own host name, and a verify mode
                        }
                    } else if (h.secure() || (sts != null && sts.allows(h.name()))) {
                        // RFC 8689 §4.2.1: an MX host name DNSSEC or MTA-STS vouches for, verified as exactly that name
                        return t.mode().requiresVerifiedCertificate() && t.mxNameOnly() ? t.withRequireTls()
                                : new DomainDelivery.Tls(OutboundTlsMode.REQUIRED_VERIFY, "requiretls", m.trust(), m.clientKey(), true)
                                        .withRequireTls();
                    }
                    String why = "REQUIRETLS: no verified TLS for " + h.name() + " (" + (h.route()
                            ? "an SMTP route host without a verify mode)"
                            : "no DANE, its MX records not DNSSEC-secure and no MTA-STS policy naming it)");
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
            if (!h.route() && h.dnsFailure() != null && !out.containsKey(h.name())) {
                // RFC 7672 §2.2.1: under a secure MX RRset, an address lookup that failed leaves DANE unknown: not used.
                out.put(h.name(), new Dane.Host(Dane.Kind.FAILED, "_" + h.port() + "._tcp." + h.name(), List.of(),
                        h.bogus() ? TlsResultType.DNSSEC_INVALID : TlsResultType.VALIDATION_FAILURE,
                        "address lookup failed: " + h.dnsFailure()));
            } else if (!h.route() && h.secure() && !out.containsKey(h.name())) {
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
    private static DomainDelivery.TlsRules withDane(DomainDelivery.TlsRules tlsFor, DomainDelivery.TlsRules floor,
            Map<String, Dane.Host> tlsa) {
        return (h, a) -> {
            DomainDelivery.Tls current = tlsFor.of(h, a);
            Dane.Host d = h.route() ? null : tlsa.get(h.name());
            if (d == null) {
                return current;
            }
            String source = "dane TLSA " + d.tlsaName();
            return switch (d.kind()) {
                case USABLE -> {
                    // DANE decides for this host (not MTA-STS); the entry's own verify mode stays a floor
                    DomainDelivery.Tls own = floor.of(h, a);
                    boolean pkixToo = own.mode().requiresVerifiedCertificate();
                    yield new DomainDelivery.Tls(pkixToo ? own.mode() : OutboundTlsMode.REQUIRED_VERIFY, source, own.trust(),
                            own.clientKey(), false, new DaneRule(d.tlsaName(), d.records(), pkixToo));
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

    /**
     * The domain's MX hosts as a delivery would see them: through DANE's validating resolver
     * while DNSSEC validation works (then the answer says what is secure), else the usual one.
     */
    public io.tlsgate.platform.dns.MxResolver.Answer mx(String domain) {
        return dane != null && dane.available() ? dane.mx().resolve(domain) : delivery.mx().resolve(domain);
    }

    /** Whether DANE is applied now (on, and DNSSEC validation works through the resolvers). */
    public boolean daneApplied() {
        return dane != null && dane.available();
    }

    /** cert-service's trust anchors and client key for the verify modes, or {@link Unavailable}. */
    public CertClient.Material material(OutboundSettings settings) {
        try {
            return certs.material(settings.getCertificateSlot(), settings.getTrustedCaMode());
        } catch (StatusRuntimeException | IllegalStateException e) {
            throw new Unavailable("451 4.4.3 cert-service unavailable: " + e.getMessage());
        }
    }

    /** An upstream service is away and the rules cannot be known: the work waits; the message is the reply to record. */
    public static final class Unavailable extends RuntimeException {
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
