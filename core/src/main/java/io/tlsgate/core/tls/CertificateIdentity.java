package io.tlsgate.core.tls;

import io.tlsgate.core.dns.DomainName;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The certificate identity rules of the verify modes (docs/delivery.md, "Certificate identity in the verify modes"): which reference
 * identity a peer certificate's names match, by the "Verify" rule ({@code PREFERRED_VERIFY},
 * {@code REQUIRED_VERIFY}) or the "Hosted Verify" rule ({@code REQUIRED_VERIFY_HOSTED_DOMAINS}).
 * Only names are compared here; chain, validity and key usage are checked by the TLS stack.
 *
 * <p>Wildcards: only a whole left-most label, covering exactly one label
 * ({@code *.example.com} matches {@code mx.example.com}, not {@code a.b.example.com} or
 * {@code example.com}); no partial-label wildcards ({@code m*.example.com} never matches);
 * and, as browsers do, no wildcard directly above a top-level domain ({@code *.com}).
 * Comparison is on lower-case A-labels with trailing dots ignored.
 */
public final class CertificateIdentity {

    private CertificateIdentity() {}

    /**
     * The outcome: whether a name matched, which reference identity (normalised) and which
     * presented name did; {@code detail} says why nothing matched.
     */
    public record Match(boolean matched, String referenceIdentity, String presentedIdentity, String detail) {

        static Match none(List<String> presented, List<String> references) {
            return new Match(false, null, null, "certificate names " + presented + " match none of " + references);
        }
    }

    /**
     * "Verify": the CN or any subjectAltName DNS name (the CN counts even when SANs exist)
     * against the host connected to (MX or SMTP-route host name) and the recipient domain.
     */
    public static Match verify(String commonName, List<String> sanDnsNames, String connectedHost, String recipientDomain) {
        List<String> presented = new ArrayList<>();
        if (commonName != null && !commonName.isBlank()) {
            presented.add(commonName);
        }
        presented.addAll(sanDnsNames);
        List<String> references = references(connectedHost, recipientDomain);
        return firstMatch(presented, references);
    }

    /**
     * "Hosted Verify": the subjectAltName DNS names (the CN only when there is no SAN DNS
     * name at all) against, in order, the recipient domain, each MX host name of the domain,
     * and the SMTP-route host name when a route supplied the host. Never the PTR name.
     *
     * @param mxHosts the domain's MX host names as DNS returned them (empty when none)
     * @param routeHost the route's host name, or null when no route applied
     */
    public static Match hostedVerify(String commonName, List<String> sanDnsNames, String recipientDomain,
            List<String> mxHosts, String routeHost) {
        List<String> presented = !sanDnsNames.isEmpty() ? List.copyOf(sanDnsNames)
                : commonName == null || commonName.isBlank() ? List.of() : List.of(commonName);
        List<String> refs = new ArrayList<>();
        refs.add(recipientDomain);
        refs.addAll(mxHosts);
        refs.add(routeHost);
        return firstMatch(presented, references(refs.toArray(new String[0])));
    }

    /** The subjectAltName DNS names of a certificate, in order (none when it has no readable SAN). */
    public static List<String> dnsNames(java.security.cert.X509Certificate x) {
        List<String> out = new ArrayList<>();
        try {
            if (x.getSubjectAlternativeNames() != null) {
                for (List<?> san : x.getSubjectAlternativeNames()) {
                    if ((Integer) san.get(0) == 2) {
                        out.add((String) san.get(1));
                    }
                }
            }
        } catch (java.security.cert.CertificateParsingException e) {
            // no readable SANs: none presented
        }
        return out;
    }

    /** The (last) CN of a certificate's subject, parsed as an RFC 4514 name; null when it has none. */
    public static String commonName(java.security.cert.X509Certificate x) {
        try {
            String cn = null;
            for (javax.naming.ldap.Rdn rdn : new javax.naming.ldap.LdapName(x.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    cn = rdn.getValue().toString();
                }
            }
            return cn;
        } catch (javax.naming.InvalidNameException e) {
            return null;
        }
    }

    /** Whether one presented name matches one (normalised) reference identity. */
    public static boolean matches(String presented, String reference) {
        String p = presented.toLowerCase(Locale.ROOT);
        if (p.endsWith(".")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.startsWith("*.")) {
            String base = p.substring(2);
            if (base.indexOf('*') >= 0 || base.indexOf('.') < 0) {
                return false; // a second wildcard, or a wildcard over a top-level domain
            }
            int dot = reference.indexOf('.');
            return dot > 0 && reference.substring(dot + 1).equals(base);
        }
        if (p.indexOf('*') >= 0) {
            return false; // partial-label or inner wildcards never match
        }
        return p.equals(reference);
    }

    private static Match firstMatch(List<String> presented, List<String> references) {
        for (String ref : references) {
            for (String name : presented) {
                if (matches(name, ref)) {
                    return new Match(true, ref, name, null);
                }
            }
        }
        return Match.none(presented, references);
    }

    /** The non-empty references, normalised (A-labels, lower case, no trailing dot), without repeats, in order. */
    private static List<String> references(String... raw) {
        List<String> out = new ArrayList<>();
        for (String r : raw) {
            if (r == null || r.isBlank()) {
                continue;
            }
            try {
                String n = DomainName.normalise(r);
                if (!out.contains(n)) {
                    out.add(n);
                }
            } catch (IllegalArgumentException e) {
                // not a host name: it cannot be a reference identity
            }
        }
        return out;
    }
}
