package io.tlsgate.platform.tls;

import io.tlsgate.core.tls.TlsResultType;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The one check of a peer's certificate chain in tlsgate, for both directions: the server
 * certificates delivery-service's verify modes judge, and the client certificates the
 * listener's *_VERIFY mail flow policies ask for. A chain is trusted when its leaf is valid
 * now, it is meant for the peer's role (extended key usage, and the key usage the JDK's PKIX
 * checker requires for the role), and PKIX finds a path from it to one of the anchors. The
 * verdict names an RFC 8460 result type (docs/events.md). The name check is not part of it:
 * that is the outbound mode's rule ({@link io.tlsgate.core.tls.CertificateIdentity}).
 *
 * <p>Immutable; building one compiles the anchors (for the ~150 of the system bundle that costs
 * more than a handshake), so holders keep one per anchor list and replace it when the list
 * changes.
 */
public final class PeerTrust {

    /** Which end of the connection sent the chain. */
    public enum Role {
        /** A server we connected to (delivery-service). */
        SERVER("certificate", "1.3.6.1.5.5.7.3.1"),
        /** A client that connected to us (listener-service). */
        CLIENT("client certificate", "1.3.6.1.5.5.7.3.2");

        private final String noun;
        private final String purpose;

        Role(String noun, String purpose) {
            this.noun = noun;
            this.purpose = purpose;
        }
    }

    /** Why the chain is not trusted: an RFC 8460 result type and the detail for the mail log. */
    public record Failure(TlsResultType type, String detail) {}

    /** Trusts nothing (the trust of a connection that verifies nothing). */
    public static final PeerTrust NONE = new PeerTrust(List.of());

    private static final String ANY_EKU = "2.5.29.37.0";

    private final List<X509Certificate> anchors;
    private final X509TrustManager pkix;

    private PeerTrust(List<X509Certificate> anchors) {
        this.anchors = anchors;
        this.pkix = anchors.isEmpty() ? null : pkix(anchors);
    }

    /** Trust in exactly {@code anchors} (none: nothing is trusted). */
    public static PeerTrust of(List<X509Certificate> anchors) {
        return new PeerTrust(anchors);
    }

    /** Trust in the JDK's system bundle and {@code operatorCas}. */
    public static PeerTrust systemAnd(List<X509Certificate> operatorCas) {
        Set<X509Certificate> all = new LinkedHashSet<>(KeyMaterial.systemAnchors());
        all.addAll(operatorCas);
        return new PeerTrust(List.copyOf(all));
    }

    /** The anchors this trust was built from (the same list instance). */
    public List<X509Certificate> anchors() {
        return anchors;
    }

    /**
     * Null when {@code chain} (leaf first) sent by a {@code role} peer is trusted now; else why
     * not. {@code authType} is what JSSE would pass to a trust manager ({@link #authType}).
     */
    public Failure check(X509Certificate[] chain, Role role, String authType) {
        if (chain == null || chain.length == 0) {
            return new Failure(TlsResultType.VALIDATION_FAILURE, "no " + role.noun);
        }
        X509Certificate leaf = chain[0];
        try {
            leaf.checkValidity();
        } catch (CertificateExpiredException | CertificateNotYetValidException e) {
            return new Failure(TlsResultType.CERTIFICATE_EXPIRED, role.noun + " " + leaf.getSubjectX500Principal()
                    + " expired or is not yet valid: " + e.getMessage());
        }
        try {
            List<String> eku = leaf.getExtendedKeyUsage();
            if (eku != null && !eku.contains(role.purpose) && !eku.contains(ANY_EKU)) {
                return new Failure(TlsResultType.VALIDATION_FAILURE, role.noun + " " + leaf.getSubjectX500Principal()
                        + " is not for TLS " + role.name().toLowerCase(java.util.Locale.ROOT) + " authentication");
            }
        } catch (CertificateParsingException e) {
            return new Failure(TlsResultType.VALIDATION_FAILURE, role.noun + " cannot be read: " + e.getMessage());
        }
        if (pkix == null) {
            // PKIX refuses to run without anchors; with none, nothing is trusted.
            return new Failure(TlsResultType.CERTIFICATE_NOT_TRUSTED, "no trusted CA is configured");
        }
        String type = authType == null || authType.isEmpty() ? "UNKNOWN" : authType;
        try {
            if (role == Role.SERVER) {
                pkix.checkServerTrusted(chain, type);
            } else {
                pkix.checkClientTrusted(chain, type);
            }
            return null;
        } catch (CertificateException e) {
            return new Failure(TlsResultType.CERTIFICATE_NOT_TRUSTED, role.noun + " " + leaf.getSubjectX500Principal()
                    + " is not trusted: " + e.getMessage());
        }
    }

    /**
     * The authentication type JSSE would pass for a server's chain: the key exchange of a TLS
     * 1.2 suite ({@code ECDHE_RSA} of {@code TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}),
     * {@code UNKNOWN} for TLS 1.3, whose suites do not name one.
     */
    public static String authType(String protocol, String cipherSuite) {
        int with = cipherSuite == null ? -1 : cipherSuite.indexOf("_WITH_");
        if ("TLSv1.3".equals(protocol) || with <= 4 || !cipherSuite.startsWith("TLS_")) {
            return "UNKNOWN";
        }
        return cipherSuite.substring(4, with);
    }

    /**
     * A client TLS context that trusts {@code anchors} (PKIX; the caller's socket or HTTP
     * client checks the host name), for HTTPS to hosts the verify modes' CAs vouch for.
     *
     * @throws IllegalStateException when no trust manager can be made from them
     */
    public static javax.net.ssl.SSLContext clientContext(List<X509Certificate> anchors) {
        try {
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, new javax.net.ssl.TrustManager[] {pkix(anchors)}, null);
            return ctx;
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("cannot build a TLS context: " + e.getMessage(), e);
        }
    }

    private static X509TrustManager pkix(List<X509Certificate> anchors) {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            int i = 0;
            for (X509Certificate a : anchors) {
                ks.setCertificateEntry("a" + i++, a);
            }
            TrustManagerFactory f = TrustManagerFactory.getInstance("PKIX");
            f.init(ks);
            return (X509TrustManager) f.getTrustManagers()[0];
        } catch (Exception e) {
            throw new IllegalStateException("cannot build a trust manager from " + anchors.size() + " anchors", e);
        }
    }
}
