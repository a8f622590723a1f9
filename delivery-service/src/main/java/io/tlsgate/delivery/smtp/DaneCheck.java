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
import java.util.Date;
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
            String pathProblem = path(chain, below);
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
        for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448")) {
            try {
                PublicKey key = KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(r.getCertificateAssociationData()));
                top.verify(key);
                return true;
            } catch (GeneralSecurityException | RuntimeException e) {
                // not this algorithm, or not signed by it
            }
        }
        return false;
    }

    /**
     * Why certificates {@code 0..below-1} do not form a valid path up to the anchor, or null:
     * each must be valid now and signed by the next one of the chain (the last of them by the
     * anchor, {@code chain[below]}; with the anchor's key only, {@code below} is the chain's
     * length and its top was checked against the key already).
     */
    private static String path(X509Certificate[] chain, int below) {
        Date now = new Date();
        for (int k = 0; k < below; k++) {
            try {
                chain[k].checkValidity(now);
            } catch (GeneralSecurityException e) {
                return "certificate " + k + " of the chain is not valid now: " + e.getMessage();
            }
            if (k + 1 < chain.length) {
                try {
                    chain[k].verify(chain[k + 1].getPublicKey());
                } catch (GeneralSecurityException | RuntimeException e) {
                    return "certificate " + k + " of the chain is not signed by the next one";
                }
            }
        }
        return null;
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
