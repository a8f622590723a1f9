package io.tlsgate.delivery.check;

import io.tlsgate.core.tls.CertificateIdentity;
import io.tlsgate.platform.tls.PeerTrust;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The TLS check's view of each certificate the server sent: the leaf's verdict is the chain's
 * against the trust anchors (the verify modes' check), each certificate's own is its dates,
 * whether the next one signed it, and for the last one whether it is a self-signed certificate
 * that no anchor vouches for.
 */
final class Certificates {

    private Certificates() {}

    static List<TlsCheckReport.Certificate> judge(X509Certificate[] chain, PeerTrust trust, String protocol, String suite) {
        if (chain.length == 0) {
            return List.of();
        }
        PeerTrust.Failure failure = trust.check(chain, PeerTrust.Role.SERVER, PeerTrust.authType(protocol, suite));
        Instant now = Instant.now();
        List<TlsCheckReport.Certificate> out = new ArrayList<>();
        for (int i = 0; i < chain.length; i++) {
            X509Certificate c = chain[i];
            String verdict = "ok";
            String reason;
            if (now.isBefore(c.getNotBefore().toInstant())) {
                verdict = "not-yet-valid";
                reason = "valid only from " + c.getNotBefore().toInstant();
            } else if (now.isAfter(c.getNotAfter().toInstant())) {
                verdict = "expired";
                reason = "expired on " + c.getNotAfter().toInstant();
            } else if (i + 1 < chain.length && !signedBy(c, chain[i + 1])) {
                verdict = "bad-signature";
                reason = "not signed by the next certificate of the chain";
            } else if (i == chain.length - 1 && selfSigned(c) && !anchor(c, trust)) {
                verdict = "self-signed";
                reason = "self-signed, and not one of the trusted CAs";
            } else {
                reason = anchor(c, trust) ? "a trusted CA" : i == chain.length - 1 && anchorIssued(c, trust)
                        ? "issued by a trusted CA" : "in date" + (i + 1 < chain.length ? ", signed by the next certificate" : "");
            }
            if (i == 0 && failure != null && verdict.equals("ok")) {
                verdict = failure.type().wire();
                reason = failure.detail();
            } else if (i == 0 && failure == null) {
                reason = "chains to a trusted CA, in date";
            }
            out.add(new TlsCheckReport.Certificate(c.getSubjectX500Principal().getName(), c.getIssuerX500Principal().getName(),
                    CertificateIdentity.dnsNames(c), c.getNotBefore().toInstant(), c.getNotAfter().toInstant(), verdict, reason));
        }
        return out;
    }

    private static boolean signedBy(X509Certificate c, X509Certificate issuer) {
        try {
            c.verify(issuer.getPublicKey());
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    private static boolean selfSigned(X509Certificate c) {
        return c.getSubjectX500Principal().equals(c.getIssuerX500Principal()) && signedBy(c, c);
    }

    private static boolean anchor(X509Certificate c, PeerTrust trust) {
        return trust.anchors().stream().anyMatch(a -> a.getSubjectX500Principal().equals(c.getSubjectX500Principal())
                && Arrays.equals(a.getPublicKey().getEncoded(), c.getPublicKey().getEncoded()));
    }

    private static boolean anchorIssued(X509Certificate c, PeerTrust trust) {
        return trust.anchors().stream().anyMatch(a -> a.getSubjectX500Principal().equals(c.getIssuerX500Principal())
                && signedBy(c, a));
    }
}
