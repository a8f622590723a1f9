package io.tlsgate.cert.certs;

import io.tlsgate.core.tls.CertificateIdentity;
import io.tlsgate.platform.dns.MxResolver;
import io.tlsgate.platform.problem.InvalidRequestException;
import jakarta.enterprise.context.ApplicationScoped;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * The "three things must match" check (docs/certificates.md) for a certificate: its names against the
 * listener's host name and against the MX host names of a domain (looked up in DNS, resolver
 * {@code tlsgate.dns.server} or the system's), plus days to expiry and whether the chain holds
 * together. Names match exactly as delivery matches them ({@link CertificateIdentity#matches}:
 * case-insensitive, a wildcard covers exactly one left-most label, never a top-level domain).
 */
@ApplicationScoped
public class Diagnosis {

    /** One name checked against the certificate. */
    public record NameCheck(String name, Integer preference, boolean matches, String matchedBy) {}

    /** The MX check of a domain. */
    public record DomainCheck(String domain, List<NameCheck> mx, String note) {}

    /** What the diagnosis found; {@code problems} is empty when everything matches. */
    public record Report(String certificate, String status, List<String> names, NameCheck hostname, DomainCheck domain,
            long daysToExpiry, String chain, List<String> problems) {}

    private final MxResolver mx;

    Diagnosis(io.tlsgate.platform.dns.DnsResolver dns) {
        this.mx = new MxResolver(dns);
    }

    public Report diagnose(CertificateView view, List<X509Certificate> chain, String hostname, String domain,
            Collection<X509Certificate> trusted) {
        X509Certificate leaf = chain.get(0);
        List<String> names = CertificateIdentity.dnsNames(leaf);
        if (names.isEmpty()) {
            String cn = CertificateIdentity.commonName(leaf);
            names = cn == null ? List.of() : List.of(cn);
        }
        List<String> problems = new ArrayList<>();
        NameCheck host = null;
        if (hostname != null && !hostname.isBlank()) {
            host = check(names, hostname.strip(), null);
            if (!host.matches()) {
                problems.add("the listener host name " + host.name() + " is not among the certificate's names " + names);
            }
        }
        DomainCheck dom = null;
        if (domain != null && !domain.isBlank()) {
            dom = domain(names, domain.strip());
            for (NameCheck mx : dom.mx()) {
                if (!mx.matches()) {
                    problems.add("MX host " + mx.name() + " of " + dom.domain() + " is not among the certificate's names");
                }
            }
            if (dom.note() != null && dom.mx().isEmpty()) {
                problems.add(dom.note());
            }
        }
        Instant now = Instant.now();
        long days = Duration.between(now, leaf.getNotAfter().toInstant()).toDays();
        if (now.isAfter(leaf.getNotAfter().toInstant())) {
            problems.add("the certificate expired on " + leaf.getNotAfter().toInstant());
        } else if (days < 30) {
            problems.add("the certificate expires in " + days + " days");
        }
        String verdict;
        if ("DEMO".equals(view.status())) {
            verdict = "demo certificate: no client can verify it";
            problems.add(verdict);
        } else if ("SELF_SIGNED".equals(view.status())) {
            verdict = "self-signed: verifying clients will refuse it";
            problems.add(verdict);
        } else {
            StringBuilder pem = new StringBuilder();
            chain.forEach(x -> pem.append(Pki.pem(x)));
            try {
                ChainValidator.validate(pem.toString(), leaf.getPublicKey(), trusted, now);
                verdict = "complete: leads to a trusted CA";
            } catch (ChainValidator.Rejected e) {
                verdict = e.getMessage();
                problems.add(verdict);
            }
        }
        return new Report(view.name(), view.status(), names, host, dom, days, verdict, problems);
    }

    private DomainCheck domain(List<String> names, String raw) {
        String d = raw.toLowerCase(Locale.ROOT).replaceAll("\\.$", "");
        MxResolver.Answer a;
        try {
            a = mx.resolve(d, false);
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.field("domain", "'" + raw + "' is not a domain name");
        }
        if (a.hosts().isEmpty()) {
            return new DomainCheck(d, List.of(), a.error());
        }
        List<NameCheck> out = new ArrayList<>();
        for (MxResolver.Host h : a.hosts()) {
            out.add(check(names, h.name(), h.preference()));
        }
        return new DomainCheck(d, out, a.implicit() ? "no MX records: mail goes to " + d + " itself" : null);
    }

    static NameCheck check(List<String> names, String raw, Integer preference) {
        String n = raw.toLowerCase(Locale.ROOT).replaceAll("\\.$", "");
        for (String pattern : names) {
            if (CertificateIdentity.matches(pattern, n)) {
                return new NameCheck(n, preference, true, pattern);
            }
        }
        return new NameCheck(n, preference, false, null);
    }
}
