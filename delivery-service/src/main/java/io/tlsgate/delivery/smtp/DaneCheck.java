package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.CertificateIdentity;
import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.delivery.dane.Dane;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;
import org.xbill.DNS.TLSARecord;

/**
 * DANE authentication of a server's certificate chain (RFC 7672 §3.1, RFC 7671): the chain
 * matches when one usable TLSA record does.
 * <ul>
 * <li>DANE-EE(3): the leaf certificate (selector 0) or its public key (selector 1) matches;
 * its names and validity dates are not looked at (RFC 7672 §3.1.1).</li>
 * <li>DANE-TA(2): a certificate of the chain the server sent (or, for a {@code 2 1 0} record,
 * the public key itself) is the trust anchor; every certificate below it must be signed by
 * the next and be valid now, and the leaf must name the MX host or the destination domain
 * (RFC 7672 §3.2.3; subjectAltName DNS names, the CN only without any).</li>
 * </ul>
 * Matching types: exact(0), SHA-256(1), SHA-512(2).
 */
final class DaneCheck {

    private DaneCheck() {}

    /** The verdict: null failure type when a record matched ({@code reference} names it). */
    static CertificateCheck of(DaneRule rule, X509Certificate[] chain, String mxHost, String domain) {
        List<String> tried = new ArrayList<>();
        String nameProblem = null;
        for (TLSARecord r : rule.records()) {
            tried.add(Dane.describe(r));
            if (r.getCertificateUsage() == 3) {
                if (matches(r, chain[0])) {
                    return success(rule, r, "end entity");
                }
                continue;
            }
            int anchor = anchorIndex(r, chain);
            boolean keyOnly = anchor < 0 && signedByKeyIn(r, chain[chain.length - 1]);
            if (anchor < 0 && !keyOnly) {
                continue;
            }
            int below = anchor < 0 ? chain.length : anchor;
            String pathProblem = path(chain, below, r);
            if (pathProblem != null) {
                nameProblem = pathProblem;
                continue;
            }
            CertificateIdentity.Match m = CertificateIdentity.hostedVerify(CertificateIdentity.commonName(chain[0]),
                    CertificateIdentity.dnsNames(chain[0]), mxHost, List.of(domain), null);
            if (m.matched()) {
                return success(rule, r, "trust anchor, name " + m.referenceIdentity());
            }
            nameProblem = m.detail();
        }
        return new CertificateCheck(TlsResultType.TLSA_INVALID, "no TLSA record of " + rule.tlsaName() + " " + tried
                + " matches the certificate chain of " + chain.length + (nameProblem == null ? "" : " (" + nameProblem + ")"),
                null);
    }

    private static CertificateCheck success(DaneRule rule, TLSARecord r, String what) {
        return new CertificateCheck(null, null, "DANE TLSA " + rule.tlsaName() + " " + Dane.describe(r) + " (" + what + ")");
    }

    /** The index of the chain certificate that a DANE-TA record names, or -1. */
    private static int anchorIndex(TLSARecord r, X509Certificate[] chain) {
        for (int i = 0; i < chain.length; i++) {
            if (matches(r, chain[i])) {
                return i;
            }
        }
        return -1;
    }

    /** A {@code 2 1 0} record carries the anchor's whole public key: the top of the chain may be signed by it. */
    private static boolean signedByKeyIn(TLSARecord r, X509Certificate top) {
        if (r.getSelector() != 1 || r.getMatchingType() != 0) {
            return false;
        }
        try {
            top.verify(key(r));
            return true;
        } catch (GeneralSecurityException | RuntimeException e) {
            return false; // not a key, or not signed by it
        }
    }

    /**
     * Why certificates {@code 0..below-1} do not form a valid path from the anchor, or null:
     * PKIX path validation (RFC 5280: signatures, validity now, issuer names, basic constraints
     * and key usage of every CA certificate, path length) from the anchor, {@code chain[below]}
     * (with the anchor's key only, {@code below} is the chain's length and the anchor is that
     * key, named as the top certificate's issuer); no revocation checks. The anchor itself is
     * not judged: its dates and constraints are the TLSA record's to vouch for (RFC 7671 §5.2.2).
     */
    private static String path(X509Certificate[] chain, int below, TLSARecord r) {
        if (below == 0) {
            return null; // the leaf itself is the anchor
        }
        try {
            java.security.cert.TrustAnchor anchor = below < chain.length
                    ? new java.security.cert.TrustAnchor(chain[below], null)
                    : new java.security.cert.TrustAnchor(chain[below - 1].getIssuerX500Principal(), key(r), null);
            java.security.cert.PKIXParameters params = new java.security.cert.PKIXParameters(java.util.Set.of(anchor));
            params.setRevocationEnabled(false);
            java.security.cert.CertPath p = java.security.cert.CertificateFactory.getInstance("X.509")
                    .generateCertPath(java.util.Arrays.asList(chain).subList(0, below));
            java.security.cert.CertPathValidator.getInstance("PKIX").validate(p, params);
            return null;
        } catch (java.security.cert.CertPathValidatorException e) {
            return "the chain below the trust anchor does not validate: " + e.getMessage();
        } catch (GeneralSecurityException | RuntimeException e) {
            return "the chain below the trust anchor cannot be checked: " + e.getMessage();
        }
    }

    /** The public key a {@code 2 1 0} record carries. */
    private static PublicKey key(TLSARecord r) throws GeneralSecurityException {
        for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(r.getCertificateAssociationData()));
            } catch (GeneralSecurityException e) {
                // not this algorithm
            }
        }
        throw new GeneralSecurityException("the record's data is not a public key");
    }

    /** Whether {@code r}'s data is the certificate's (selector 0) or its public key's (selector 1), digested per its matching type. */
    static boolean matches(TLSARecord r, X509Certificate c) {
        try {
            byte[] data = r.getSelector() == 0 ? c.getEncoded() : c.getPublicKey().getEncoded();
            byte[] digest = switch (r.getMatchingType()) {
                case 0 -> data;
                case 1 -> MessageDigest.getInstance("SHA-256").digest(data);
                case 2 -> MessageDigest.getInstance("SHA-512").digest(data);
                default -> null;
            };
            return digest != null && MessageDigest.isEqual(digest, r.getCertificateAssociationData());
        } catch (GeneralSecurityException e) {
            return false;
        }
    }
}
