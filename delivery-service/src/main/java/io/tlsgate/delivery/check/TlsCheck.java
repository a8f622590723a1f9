package io.tlsgate.delivery.check;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.sts.MtaStsPolicy;
import io.tlsgate.core.tls.CertificateIdentity;
import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.core.tls.Verification;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.delivery.dane.Dane;
import io.tlsgate.delivery.schedule.DomainRules;
import io.tlsgate.delivery.schedule.Scheduler;
import io.tlsgate.delivery.smtp.CertificateCheck;
import io.tlsgate.delivery.smtp.DomainDelivery;
import io.tlsgate.delivery.smtp.LocalAddresses;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Target;
import io.tlsgate.delivery.smtp.TlsProbe;
import io.tlsgate.delivery.upstream.CertClient;
import io.tlsgate.platform.dns.MxResolver;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.Problem;
import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.platform.tls.PeerTrust;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * The TLS check: what a delivery to a domain (or an address) would meet, host by host, and what
 * each outbound mode would make of it, without sending a message. The rules are the ones a
 * delivery follows ({@link DomainRules}: destination entry, SMTP route, MTA-STS, DANE), the
 * hosts a delivery's plan (MX by preference, at most the MX host limit), each probed at its
 * first address ({@link TlsProbe}); the per-mode verdicts come from the same decision the SMTP
 * client takes at each step ({@link OutboundTlsDecision}) and the same certificate check
 * ({@link CertificateCheck}). docs/delivery.md ("TLS check") describes the report and the score.
 */
@ApplicationScoped
public class TlsCheck {

    private static final Logger LOG = Logger.getLogger(TlsCheck.class);
    private static final List<OutboundTlsMode> MODES = List.of(OutboundTlsMode.values());

    /** The request: only {@code target} is required. */
    public record Request(String target, Integer port, Integer timeoutSeconds, String mode, String recipient) {}

    /** A validated request: a domain or an address, the port (null: the hops' own), the time limit and the mode judged. */
    public record Checked(String target, String domain, InetAddress address, Integer port, Duration timeout,
            OutboundTlsMode mode, String recipient) {}

    /** Told about each step as it ends. */
    @FunctionalInterface
    public interface Progress {
        void step(String host, String step, long millis, String detail);
    }

    private final Scheduler scheduler;
    private final DeliveryConfig.TlsCheck settings;
    private final boolean localAllowed;
    private final int smtpPort;
    private final CheckLimiter limiter;

    TlsCheck(Scheduler scheduler, DeliveryConfig config) {
        this.scheduler = scheduler;
        this.settings = config.tlsCheck();
        this.localAllowed = config.mxLocalAddresses();
        this.smtpPort = config.smtpPort();
        this.limiter = new CheckLimiter(settings.perDestination(), settings.window(), settings.concurrent());
    }

    /** The request checked field by field; bad fields are one 400 naming each of them. */
    public Checked validate(Request r) {
        if (r == null || r.target() == null || r.target().isBlank()) {
            throw InvalidRequestException.field("target", "required: a domain, or an IPv4 or IPv6 address");
        }
        List<Problem.FieldError> errors = new ArrayList<>();
        String target = r.target().trim().toLowerCase(Locale.ROOT);
        InetAddress address = address(target);
        String domain = null;
        if (address == null) {
            domain = target.endsWith(".") ? target.substring(0, target.length() - 1) : target;
            if (!isDomain(domain)) {
                errors.add(new Problem.FieldError("target", "'" + r.target() + "' is neither a domain nor an IP address"));
                domain = null;
            }
        } else if (!localAllowed && LocalAddresses.isLocal(address)) {
            errors.add(new Problem.FieldError("target", "'" + r.target()
                    + "' is a loopback, unspecified or own address of this gateway (tlsgate.delivery.mx-local-addresses)"));
        }
        if (r.port() != null && (r.port() < 1 || r.port() > 65535)) {
            errors.add(new Problem.FieldError("port", "must be 1 to 65535"));
        }
        long max = settings.maxTimeout().toSeconds();
        if (r.timeoutSeconds() != null && (r.timeoutSeconds() < 1 || r.timeoutSeconds() > max)) {
            errors.add(new Problem.FieldError("timeoutSeconds", "must be 1 to " + max));
        }
        OutboundTlsMode mode = null;
        if (r.mode() != null) {
            try {
                mode = OutboundTlsMode.valueOf(r.mode().trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                errors.add(new Problem.FieldError("mode", "one of " + MODES));
            }
        }
        String recipient = r.recipient() == null ? (domain == null ? null : "postmaster@" + domain) : r.recipient().trim();
        if (recipient != null && (!recipient.matches("[^\\s<>@]+@[^\\s<>@]+") || recipient.length() > 254)) {
            errors.add(new Problem.FieldError("recipient", "an address such as postmaster@example.com"));
        }
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
        Duration timeout = r.timeoutSeconds() == null ? settings.defaultTimeout() : Duration.ofSeconds(r.timeoutSeconds());
        return new Checked(target, domain, address, r.port(), timeout, mode, recipient);
    }

    /**
     * A permit to check {@code c}'s destination now, or a 429 (with the seconds to wait) when
     * this destination had its share of checks in the window, or too many run at once.
     */
    public CheckLimiter.Permit admit(Checked c) {
        return limiter.admit(c.domain() != null ? c.domain() : c.address().getHostAddress());
    }

    /** Runs the check (blocking: a worker thread), telling {@code progress} about each step. */
    public TlsCheckReport run(Checked c, Progress progress) {
        Instant started = Instant.now();
        Instant deadline = started.plus(c.timeout());
        DomainRules rules = scheduler.rules();
        TlsCheckReport.Dns dns = null;
        java.util.Map<String, Integer> preferences = new java.util.HashMap<>();
        DomainRules.Rules r;
        try {
            if (c.domain() != null) {
                long t = System.nanoTime();
                MxResolver.Answer a = rules.mx(c.domain());
                long ms = since(t);
                dns = dns(a, rules.daneApplied(), ms);
                a.hosts().forEach(h -> preferences.putIfAbsent(h.name(), h.preference()));
                progress.step(c.domain(), "dns", ms, a.error() != null ? a.error()
                        : "MX " + a.hosts().stream().map(MxResolver.Host::name).toList() + (a.secure() ? " (DNSSEC-secure)" : ""));
                t = System.nanoTime();
                r = rules.of(c.domain());
                progress.step(c.domain(), "rules", since(t), "entry " + r.policy().getMatchedKey() + ": " + r.tls().mode()
                        + (r.sts() != null ? ", MTA-STS " + r.sts().mode().wire() : ""));
            } else {
                r = rules.forAddress(c.address(), c.port() == null ? smtpPort : c.port());
            }
        } catch (DomainRules.Unavailable e) {
            throw new ProblemException(503, e.getMessage());
        }
        CertClient.Material material;
        try {
            material = rules.material(r.settings());
        } catch (DomainRules.Unavailable e) {
            throw new ProblemException(503, e.getMessage());
        }
        TlsCheckReport.Destination destination = new TlsCheckReport.Destination(r.policy().getMatchedKey(), r.tls().mode().name(),
                r.tls().source());
        TlsCheckReport.MtaSts sts = r.sts() == null ? null
                : new TlsCheckReport.MtaSts(r.sts().mode().wire(), r.sts().mx(), r.sts().maxAgeSeconds());
        List<TlsCheckReport.Host> hosts = new ArrayList<>();
        boolean timedOut = false;
        for (DomainDelivery.Hop hop : r.plan().hops()) {
            if (!Instant.now().isBefore(deadline)) {
                timedOut = true;
                hosts.add(unprobed(hop, c, r, preferences, "not probed: the check's time limit was reached"));
                continue;
            }
            hosts.add(host(hop, c, r, preferences, material, deadline, progress));
        }
        for (String refused : r.plan().refusedMx()) {
            hosts.add(new TlsCheckReport.Host(refused, null, false, null, 0, List.of(), false, null, "not named",
                    new TlsCheckReport.Rule(null, "MTA-STS", "not named by the MTA-STS policy (enforce): not used"), null, null,
                    List.of(), false, null, null, List.of(), List.of(), null, List.of(), new TlsCheckReport.Verdict("effective",
                            "defer", refused, "effective: not used, the MTA-STS policy (enforce) does not name it"),
                    0, List.of("not probed"), "not used: not named by the MTA-STS policy"));
        }
        timedOut |= hosts.stream().anyMatch(h -> h.error() != null && h.error().contains("time limit"));
        List<TlsCheckReport.Verdict> verdicts = new ArrayList<>();
        for (OutboundTlsMode m : MODES) {
            verdicts.add(overall(m.name(), hosts.stream().map(h -> h.verdicts().stream()
                    .filter(v -> v.mode().equals(m.name())).findFirst().orElse(null)).toList(), r.plan()));
        }
        TlsCheckReport.Verdict effective = overall("effective", hosts.stream().map(TlsCheckReport.Host::effective).toList(),
                r.plan());
        verdicts.add(effective);
        String judged = c.mode() == null ? "effective" : c.mode().name();
        TlsCheckReport.Verdict verdict = verdicts.stream().filter(v -> v.mode().equals(judged)).findFirst().orElse(effective);
        long elapsed = Duration.between(started, Instant.now()).toMillis();
        LOG.infof("TLS check %s: %s in %d ms", c.target(), verdict.text(), elapsed);
        return new TlsCheckReport(c.target(), c.domain(), c.port(), judged, started, elapsed, timedOut, destination, dns, sts,
                hosts, verdict, verdicts, r.plan().error());
    }

    private static TlsCheckReport.Dns dns(MxResolver.Answer a, boolean daneApplied, long ms) {
        List<TlsCheckReport.Mx> mx = a.hosts().stream().map(h -> new TlsCheckReport.Mx(h.name(), h.preference(),
                h.addresses().stream().map(InetAddress::getHostAddress).toList(), a.secure() && h.secure())).toList();
        return new TlsCheckReport.Dns(mx, a.implicit(), a.secure(), daneApplied, ms,
                a.nullMx() ? "null MX: the domain accepts no mail" : a.error());
    }

    /** One hop probed at its first address and judged. */
    private TlsCheckReport.Host host(DomainDelivery.Hop hop, Checked c, DomainRules.Rules r,
            java.util.Map<String, Integer> preferences, CertClient.Material material,
            Instant deadline, Progress progress) {
        if (hop.addresses().isEmpty()) {
            return unprobed(hop, c, r, preferences, hop.dnsFailure() != null ? "no address: " + hop.dnsFailure() : "no address found");
        }
        InetAddress address = hop.addresses().get(0);
        int port = c.port() != null && !hop.route() ? c.port() : hop.port();
        DomainDelivery.Tls rule = r.tlsFor().of(hop, address);
        String recipientDomain = c.domain() != null ? c.domain() : hop.name();
        TlsProbe.Settings s = new TlsProbe.Settings(scheduler.heloName(), rule.clientKey() != null ? rule.clientKey()
                : material.clientKey(), TlsProbe.sni(hop.name()), "", c.recipient(), settings.stepTimeout(), deadline);
        TlsProbe.Facts f = TlsProbe.run(address, port, s, (step, ms, detail) -> progress.step(hop.name(), step, ms, detail));

        List<TlsCheckReport.Verdict> verdicts = new ArrayList<>();
        for (OutboundTlsMode m : MODES) {
            Target t = target(hop, address, port, recipientDomain, r, m, material.trust(), material.clientKey(), false, null);
            verdicts.add(judge(m.name(), hop, t, f, null));
        }
        Target now = target(hop, address, port, recipientDomain, r, rule.mode(), rule.trust(), rule.clientKey(),
                rule.mxNameOnly(), rule.dane());
        TlsCheckReport.Verdict effective = judge("effective", hop, now, f, rule.refusal());
        X509Certificate[] chain = f.chain.toArray(X509Certificate[]::new);
        List<TlsCheckReport.Certificate> certificates = Certificates.judge(chain, material.trust(), f.protocol, f.cipherSuite);
        List<TlsCheckReport.NameCheck> names = names(chain, hop, c.domain());
        Score score = Score.of(f, certificates, names, rule, r.sts(), hop, effective);
        return new TlsCheckReport.Host(hop.name(), hop.route() ? null : preferences.get(hop.name()), hop.route(), address.getHostAddress(), port,
                hop.addresses().stream().map(InetAddress::getHostAddress).toList(), hop.secure(), tlsa(rule),
                stsNaming(r.sts(), hop), new TlsCheckReport.Rule(rule.mode().name(), rule.source(),
                        rule.refusal() == null ? null : rule.refusal().reason()),
                new TlsCheckReport.Timings(f.connectMs, f.greetingMs, f.ehloMs, f.starttlsMs, f.handshakeMs, f.probeMs),
                f.greeting, keywords(f.ehlo), f.starttlsOffered, f.starttlsReply,
                f.encrypted() ? new TlsCheckReport.Tls(f.protocol, f.cipher, f.cipherSuite, f.keyExchange) : null,
                certificates, names, new TlsCheckReport.Probe(f.mailFrom, f.rcptTo, f.rset, f.quit), verdicts, effective,
                score.points(), score.notes(), f.error != null ? f.error
                        : f.injection != null ? "plaintext after the 220 to STARTTLS: " + f.injection
                        : f.handshakeFailure != null ? "TLS handshake failed: " + f.handshakeFailure : null);
    }

    private static Target target(DomainDelivery.Hop hop, InetAddress address, int port, String recipientDomain,
            DomainRules.Rules r, OutboundTlsMode mode, PeerTrust trust, javax.net.ssl.KeyManagerFactory key, boolean mxNameOnly,
            io.tlsgate.delivery.smtp.DaneRule dane) {
        return new Target(address.getHostAddress(), port, hop.name(), recipientDomain, r.plan().mxNames(),
                hop.route() ? hop.name() : null, mode, trust, "", key, mxNameOnly, dane, false);
    }

    private TlsCheckReport.Host unprobed(DomainDelivery.Hop hop, Checked c, DomainRules.Rules r,
            java.util.Map<String, Integer> preferences, String why) {
        List<TlsCheckReport.Verdict> verdicts = MODES.stream().map(m -> new TlsCheckReport.Verdict(m.name(), "defer",
                hop.name(), m.name() + ": would defer, " + why)).toList();
        DomainDelivery.Tls rule = hop.addresses().isEmpty() ? r.tls() : r.tlsFor().of(hop, hop.addresses().get(0));
        return new TlsCheckReport.Host(hop.name(), hop.route() ? null : preferences.get(hop.name()), hop.route(), null, hop.port(),
                hop.addresses().stream().map(InetAddress::getHostAddress).toList(), hop.secure(), tlsa(rule),
                stsNaming(r.sts(), hop), new TlsCheckReport.Rule(rule.mode().name(), rule.source(),
                        rule.refusal() == null ? null : rule.refusal().reason()), null, null, List.of(), false, null, null,
                List.of(), List.of(), null, verdicts, new TlsCheckReport.Verdict("effective", "defer", hop.name(),
                        "effective: would defer, " + why), 0, List.of("not probed"), why);
    }

    /**
     * What a delivery in {@code label}'s rules ({@code t}) would do with the host the probe met:
     * the TLS steps as the SMTP client takes them, then the envelope's replies.
     */
    static TlsCheckReport.Verdict judge(String label, DomainDelivery.Hop hop, Target t, TlsProbe.Facts f,
            DomainDelivery.Refusal refusal) {
        String host = hop.name();
        if (refusal != null) {
            boolean returned = refusal.permanentReply() != null;
            return new TlsCheckReport.Verdict(label, returned ? "bounce" : "defer", host, label + ": would "
                    + (returned ? "return the message (" + refusal.permanentReply() + ")" : "not connect and defer") + ", "
                    + refusal.reason());
        }
        if (!f.greeted()) {
            String why = f.greeting != null ? "greeting " + TlsProbe.firstLine(f.greeting) : f.error;
            return new TlsCheckReport.Verdict(label, "defer", host, label + ": would defer, " + why);
        }
        if (f.injection != null) {
            return new TlsCheckReport.Verdict(label, "defer", host, label + ": would defer, "
                    + OutboundTlsDecision.STARTTLS_INJECTION);
        }
        OutboundTlsMode mode = t.mode();
        CertificateCheck cc = f.encrypted() && mode.verifiesCertificate() && !f.chain.isEmpty()
                ? CertificateCheck.of(t, f.chain.toArray(X509Certificate[]::new), f.protocol, f.cipherSuite) : null;
        String handshake = f.encrypted() || f.starttlsCode() != 220 ? null
                : "handshake failure: " + (f.handshakeFailure != null ? f.handshakeFailure : f.error);
        OutboundTlsDecision.Outcome o = OutboundTlsDecision.decide(mode, new OutboundTlsDecision.PeerFacts(f.ehloAccepted(),
                f.starttlsOffered, f.starttlsCode(), handshake, cc == null ? null : cc.failureType(),
                cc == null ? null : cc.detail()));
        String reason = o.logLines().stream().filter(l -> l.startsWith("TLS failed: ") || l.startsWith("TLS verify failed: "))
                .map(l -> l.substring(l.indexOf(": ") + 2)).findFirst().orElse(null);
        if (o.action() == OutboundTlsDecision.Action.TEMPFAIL) {
            return new TlsCheckReport.Verdict(label, "defer", host, label + ": would defer, " + reason);
        }
        boolean tls = o.action() == OutboundTlsDecision.Action.SEND_ENCRYPTED;
        if (f.error != null && f.rset == null) {
            return new TlsCheckReport.Verdict(label, "defer", host, label + ": would defer, " + f.error);
        }
        String refused = envelopeRefusal(f);
        if (refused != null) {
            return new TlsCheckReport.Verdict(label, refused.startsWith("5") ? "bounce" : "defer", host, label + ": would "
                    + (refused.startsWith("5") ? "bounce" : "defer") + ", the envelope was refused: " + refused);
        }
        String how = tls ? "deliver over TLS" : "deliver in plaintext";
        String detail;
        if (tls && o.verification() == Verification.SUCCESS) {
            detail = ", certificate verified (" + cc.reference() + ")";
        } else if (tls && o.verification() == Verification.FAILURE) {
            detail = ", certificate not verified: " + reason;
        } else {
            detail = reason == null ? "" : " (" + reason + ")";
        }
        return new TlsCheckReport.Verdict(label, tls ? "deliver-tls" : "deliver-plaintext", host, label + ": would " + how + detail);
    }

    /** The reply that refused the probe's envelope, null when MAIL and RCPT were accepted (or RCPT not asked). */
    private static String envelopeRefusal(TlsProbe.Facts f) {
        if (f.mailFrom != null && !f.mailFrom.startsWith("2")) {
            return "MAIL FROM " + TlsProbe.firstLine(f.mailFrom);
        }
        if (f.rcptTo != null && !f.rcptTo.startsWith("2")) {
            return "RCPT TO " + TlsProbe.firstLine(f.rcptTo);
        }
        return null;
    }

    /**
     * Across the hosts in order, as a delivery goes: the first that takes the message (or
     * refuses it for good) decides; when every host defers, the message waits.
     */
    private static TlsCheckReport.Verdict overall(String label, List<TlsCheckReport.Verdict> perHost, DomainDelivery.Plan plan) {
        List<String> deferred = new ArrayList<>();
        for (TlsCheckReport.Verdict v : perHost) {
            if (v == null) {
                continue;
            }
            if (!v.outcome().equals("defer")) {
                String text = v.text() + " via " + v.host() + (deferred.isEmpty() ? "" : " (after " + deferred + " deferred)");
                return new TlsCheckReport.Verdict(label, v.outcome(), v.host(), text);
            }
            deferred.add(v.host());
        }
        if (perHost.isEmpty() && plan.permanent()) {
            // null MX, or no such domain: a delivery returns the message at once
            return new TlsCheckReport.Verdict(label, "bounce", null, label + ": would return the message, " + plan.error());
        }
        String why = perHost.isEmpty() ? (plan.error() != null ? plan.error() : "no host to try")
                : "every host would defer: " + String.join("; ", perHost.stream().filter(v -> v != null)
                        .map(v -> v.host() + ": " + v.text().substring(v.text().indexOf(": ") + 2)).toList());
        return new TlsCheckReport.Verdict(label, "defer", null, label + ": would defer, " + why);
    }

    /** Whether the leaf names the host connected to (MX or route host), and the domain. */
    private static List<TlsCheckReport.NameCheck> names(X509Certificate[] chain, DomainDelivery.Hop hop, String domain) {
        if (chain.length == 0) {
            return List.of();
        }
        Set<String> presented = new LinkedHashSet<>(CertificateIdentity.dnsNames(chain[0]));
        String cn = CertificateIdentity.commonName(chain[0]);
        if (cn != null && !cn.isBlank()) {
            presented.add(cn);
        }
        List<TlsCheckReport.NameCheck> out = new ArrayList<>();
        if (TlsProbe.sni(hop.name()) != null) {
            out.add(new TlsCheckReport.NameCheck(hop.name(), hop.route() ? "route" : "mx", matches(presented, hop.name())));
        }
        if (domain != null && !domain.equalsIgnoreCase(hop.name())) {
            out.add(new TlsCheckReport.NameCheck(domain, "domain", matches(presented, domain)));
        }
        return out;
    }

    private static boolean matches(Set<String> presented, String reference) {
        return presented.stream().anyMatch(p -> CertificateIdentity.matches(p, reference));
    }

    private static TlsCheckReport.Tlsa tlsa(DomainDelivery.Tls rule) {
        if (rule.dane() != null) {
            return new TlsCheckReport.Tlsa(rule.dane().tlsaName(), rule.dane().records().stream().map(Dane::describe).toList(),
                    "usable", rule.dane().pkixToo() ? rule.mode() + ": the chain must match a record and verify as the entry asks"
                            : "REQUIRED_VERIFY: the chain must match a record (DANE-EE/DANE-TA)");
        }
        String source = rule.source() == null ? "" : rule.source();
        if (source.startsWith("dane TLSA ")) {
            String name = source.substring("dane TLSA ".length()).split(" ")[0];
            return rule.refusal() != null
                    ? new TlsCheckReport.Tlsa(name, List.of(), "failed", "not used: " + rule.refusal().reason())
                    : new TlsCheckReport.Tlsa(name, List.of(), "unusable", "REQUIRED: TLS, not authenticated by DANE");
        }
        return null;
    }

    private static String stsNaming(MtaStsPolicy sts, DomainDelivery.Hop hop) {
        return sts == null || hop.route() ? null : sts.allows(hop.name()) ? "named" : "not named";
    }

    /** The EHLO keywords (the lines after the first). */
    private static List<String> keywords(String ehlo) {
        if (ehlo == null || !ehlo.startsWith("250")) {
            return List.of();
        }
        String[] lines = ehlo.split("\r\n");
        List<String> out = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].length() > 4) {
                out.add(lines[i].substring(4).trim());
            }
        }
        return out;
    }

    private static InetAddress address(String target) {
        String t = target.startsWith("[") && target.endsWith("]") ? target.substring(1, target.length() - 1) : target;
        boolean literal = t.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}") || (t.indexOf(':') >= 0 && t.matches("[0-9a-f:.]+"));
        if (!literal) {
            return null;
        }
        try {
            return InetAddress.getByName(t);
        } catch (UnknownHostException e) {
            throw InvalidRequestException.field("target", "'" + target + "' is not a valid IP address");
        }
    }

    private static boolean isDomain(String d) {
        if (d.isEmpty() || d.startsWith(".") || d.length() > 253 || !d.contains(".")) {
            return false;
        }
        try {
            return !DestinationKey.parse(d).isNetwork();
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static long since(long nanos) {
        return (System.nanoTime() - nanos) / 1_000_000;
    }
}
