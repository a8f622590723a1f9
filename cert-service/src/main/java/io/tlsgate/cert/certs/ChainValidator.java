package io.tlsgate.cert.certs;

import io.tlsgate.platform.tls.Pem;
import java.security.PublicKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks an uploaded certificate with its intermediates against the stored key and puts the
 * chain in order (docs/certificates.md). Refused, each with its own message: garbage, no certificate
 * for the stored key, an expired or not-yet-valid certificate, an issued leaf that is a CA, a leaf whose
 * key usage / extended key usage does not allow a TLS server, a broken link (a certificate
 * not signed by the one that claims to issue it), a missing link (nothing issued the last
 * certificate, and no trusted CA did either), an intermediate that is not a CA, and
 * certificates that belong to no chain. Duplicates and out-of-order intermediates are fixed
 * (leaf first, each followed by its issuer) and reported as warnings.
 */
public final class ChainValidator {

    private ChainValidator() {}

    /** The chain to store (leaf first) and what was fixed on the way. */
    public record Result(List<X509Certificate> chain, List<String> warnings) {}

    /** Why an upload was refused. */
    public static final class Rejected extends IllegalArgumentException {
        public Rejected(String message) {
            super(message);
        }
    }

    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String ANY_EKU = "2.5.29.37.0";

    /**
     * @param pem the uploaded PEM text (leaf and intermediates, in any order)
     * @param key the stored key's public key
     * @param trusted CA certificates a chain may end at without including them
     */
    public static Result validate(String pem, PublicKey key, Collection<X509Certificate> trusted, Instant now) {
        if (pem == null || !pem.contains("-----BEGIN CERTIFICATE-----")) {
            throw new Rejected("no certificate found (expected PEM blocks -----BEGIN CERTIFICATE-----)");
        }
        List<X509Certificate> given;
        try {
            given = Pem.certificates(pem);
        } catch (CertificateException | RuntimeException e) {
            throw new Rejected("not PEM certificates: " + e.getMessage());
        }
        if (given.isEmpty()) {
            throw new Rejected("no certificate found (expected PEM blocks -----BEGIN CERTIFICATE-----)");
        }
        List<String> warnings = new ArrayList<>();
        Map<String, X509Certificate> unique = new LinkedHashMap<>();
        for (X509Certificate x : given) {
            if (unique.putIfAbsent(CertificateView.fingerprint(x), x) != null) {
                warnings.add("duplicate certificate removed: " + subject(x));
            }
        }
        X509Certificate leaf = unique.values().stream().filter(x -> Arrays.equals(x.getPublicKey().getEncoded(),
                key.getEncoded())).findFirst().orElseThrow(() -> new Rejected(
                "no uploaded certificate has the public key of this entry (" + KeyType.describe(key)
                        + "): the certificate was issued for another key; sign this entry's CSR"));
        checkValidity(leaf, "the certificate", now);
        // A self-signed certificate may carry CA=true (openssl req -x509 sets it by default);
        // a certificate issued by someone else must be an end-entity certificate.
        if (leaf.getBasicConstraints() >= 0 && !selfIssued(leaf)) {
            throw new Rejected("the certificate is a CA certificate (basic constraints CA=true), not a server certificate");
        }
        boolean[] ku = leaf.getKeyUsage();
        if (ku != null && !ku[0] && !(ku[2] && key.getAlgorithm().equals("RSA"))) {
            throw new Rejected("the certificate's key usage allows neither digitalSignature nor keyEncipherment: "
                    + "it cannot be used for TLS");
        }
        List<String> eku;
        try {
            eku = leaf.getExtendedKeyUsage();
        } catch (java.security.cert.CertificateParsingException e) {
            throw new Rejected("the certificate's extended key usage does not parse");
        }
        if (eku != null && !eku.contains(SERVER_AUTH) && !eku.contains(ANY_EKU)) {
            throw new Rejected("the certificate's extended key usage " + eku + " does not include serverAuth "
                    + "(1.3.6.1.5.5.7.3.1): TLS clients will refuse it");
        }

        List<X509Certificate> rest = new ArrayList<>(unique.values());
        rest.remove(leaf);
        List<X509Certificate> chain = new ArrayList<>(List.of(leaf));
        X509Certificate current = leaf;
        while (!selfIssued(current)) {
            X509Certificate issuer = null;
            for (X509Certificate candidate : rest) {
                if (candidate.getSubjectX500Principal().equals(current.getIssuerX500Principal())) {
                    if (!signs(candidate, current)) {
                        throw new Rejected("broken chain link: " + subject(current) + " names " + subject(candidate)
                                + " as its issuer, but that certificate did not sign it");
                    }
                    issuer = candidate;
                    break;
                }
            }
            if (issuer == null) {
                X509Certificate c = current;
                boolean anchored = trusted.stream().anyMatch(t -> t.getSubjectX500Principal().equals(c.getIssuerX500Principal())
                        && signs(t, c));
                if (!anchored) {
                    throw new Rejected("missing chain link: nothing issued " + subject(current) + " (issuer "
                            + current.getIssuerX500Principal().getName() + "); add that intermediate certificate");
                }
                break;
            }
            if (issuer.getBasicConstraints() < 0) {
                throw new Rejected("broken chain link: " + subject(issuer) + " issued " + subject(current)
                        + " but is not a CA certificate");
            }
            checkValidity(issuer, "intermediate " + subject(issuer), now);
            rest.remove(issuer);
            chain.add(issuer);
            current = issuer;
        }
        if (!rest.isEmpty()) {
            throw new Rejected("certificate " + subject(rest.get(0)) + " does not belong to the chain of "
                    + subject(leaf));
        }
        List<X509Certificate> inOrder = new ArrayList<>(unique.values());
        if (!inOrder.equals(chain)) {
            warnings.add("certificates were not in order (leaf, then each issuer); stored in order");
        }
        return new Result(List.copyOf(chain), List.copyOf(warnings));
    }

    private static void checkValidity(X509Certificate x, String what, Instant now) {
        if (now.isAfter(x.getNotAfter().toInstant())) {
            throw new Rejected(what + " expired on " + x.getNotAfter().toInstant());
        }
        if (now.isBefore(x.getNotBefore().toInstant())) {
            throw new Rejected(what + " is not valid before " + x.getNotBefore().toInstant());
        }
    }

    private static boolean selfIssued(X509Certificate x) {
        return x.getSubjectX500Principal().equals(x.getIssuerX500Principal()) && signs(x, x);
    }

    private static boolean signs(X509Certificate issuer, X509Certificate subject) {
        try {
            subject.verify(issuer.getPublicKey());
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    private static String subject(X509Certificate x) {
        return "'" + x.getSubjectX500Principal().getName() + "'";
    }
}
