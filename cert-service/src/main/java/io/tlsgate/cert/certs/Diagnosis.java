package io.tlsgate.cert.certs;

import io.tlsgate.platform.problem.InvalidRequestException;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.xbill.DNS.Lookup;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * The seed's "three things must match" check for a certificate: its names against the
 * listener's host name and against the MX host names of a domain (looked up in DNS, resolver
 * {@code tlsgate.dns.server} or the system's), plus days to expiry and whether the chain holds
 * together. Names match as TLS clients match them (RFC 6125: case-insensitive, a wildcard
 * covers exactly one left-most label).
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

    private final Optional<String> dnsServer;

    Diagnosis(@ConfigProperty(name = "tlsgate.dns.server") Optional<String> dnsServer) {
        this.dnsServer = dnsServer;
    }

    public Report diagnose(CertificateView view, List<X509Certificate> chain, String hostname, String domain,
            Collection<X509Certificate> trusted) {
        X509Certificate leaf = chain.get(0);
        List<String> names = CertificateView.dnsNames(leaf);
        if (names.isEmpty()) {
            names = List.of(commonName(leaf));
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
        try {
            Lookup lookup = new Lookup(d + ".", Type.MX);
            lookup.setResolver(resolver());
            lookup.setCache(null);
            Record[] rs = lookup.run();
            if (lookup.getResult() == Lookup.HOST_NOT_FOUND) {
                return new DomainCheck(d, List.of(), "the domain " + d + " does not exist in DNS");
            }
            if (lookup.getResult() == Lookup.TRY_AGAIN || lookup.getResult() == Lookup.UNRECOVERABLE) {
                return new DomainCheck(d, List.of(), "DNS lookup of " + d + " failed: " + lookup.getErrorString());
            }
            if (rs == null || rs.length == 0) {
                // RFC 5321 §5.1: no MX means the domain itself is the mail host.
                return new DomainCheck(d, List.of(check(names, d, 0)), "no MX records: mail goes to " + d + " itself");
            }
            List<MXRecord> mx = new ArrayList<>();
            for (Record r : rs) {
                mx.add((MXRecord) r);
            }
            mx.sort(Comparator.comparingInt(MXRecord::getPriority));
            if (mx.size() == 1 && mx.get(0).getTarget().toString().equals(".")) {
                return new DomainCheck(d, List.of(), "null MX (RFC 7505): " + d + " accepts no mail");
            }
            List<NameCheck> out = new ArrayList<>();
            for (MXRecord r : mx) {
                out.add(check(names, r.getTarget().toString(true), r.getPriority()));
            }
            return new DomainCheck(d, out, null);
        } catch (TextParseException e) {
            throw InvalidRequestException.field("domain", "'" + raw + "' is not a domain name");
        }
    }

    private Resolver resolver() {
        try {
            SimpleResolver r;
            if (dnsServer.isPresent()) {
                String[] hp = dnsServer.get().split(":");
                r = new SimpleResolver(new InetSocketAddress(hp[0], hp.length > 1 ? Integer.parseInt(hp[1]) : 53));
            } else {
                r = new SimpleResolver();
            }
            r.setTimeout(Duration.ofSeconds(5));
            return r;
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException("tlsgate.dns.server: " + e.getMessage(), e);
        }
    }

    static NameCheck check(List<String> names, String raw, Integer preference) {
        String n = raw.toLowerCase(Locale.ROOT).replaceAll("\\.$", "");
        for (String pattern : names) {
            if (matches(pattern.toLowerCase(Locale.ROOT), n)) {
                return new NameCheck(n, preference, true, pattern);
            }
        }
        return new NameCheck(n, preference, false, null);
    }

    /** RFC 6125 §6.4.3: exact, or {@code *.example.com} for exactly one label in front of example.com. */
    static boolean matches(String pattern, String name) {
        if (pattern.startsWith("*.")) {
            int dot = name.indexOf('.');
            return dot > 0 && name.substring(dot + 1).equals(pattern.substring(2));
        }
        return pattern.equals(name);
    }

    private static String commonName(X509Certificate x) {
        for (String part : x.getSubjectX500Principal().getName().split(",")) {
            if (part.startsWith("CN=")) {
                return part.substring(3);
            }
        }
        return "";
    }
}
