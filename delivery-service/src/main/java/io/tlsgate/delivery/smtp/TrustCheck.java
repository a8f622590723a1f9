package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.TlsResultType;
import java.net.Socket;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * The verify modes' check of the chain the server sent against the trust anchors, made after
 * the handshake on every connection (a resumed TLS session included, with the anchors in force
 * now). The handshake itself never fails on a certificate ({@link #HANDSHAKE}): the mode
 * decides what a bad one means.
 */
final class TrustCheck {
    /** Why the chain is not trusted: an RFC 8460 result type and the detail for the mail log. */
    record Failure(String type, String detail) {}

    /** Accepts every server certificate during the handshake; {@link #check} gives the verdict. */
    static final X509ExtendedTrustManager HANDSHAKE = new AcceptAny();

    /**
     * The PKIX trust manager of the last anchors seen: building one from the ~150 anchors of
     * the system bundle costs more than a handshake, and every connection between two
     * refreshes of cert-service's material gets the same list.
     */
    private static volatile Map.Entry<List<X509Certificate>, X509TrustManager> last;

    private TrustCheck() {}

    /**
     * Null when {@code chain} (leaf first) is valid now and leads to one of {@code anchors};
     * {@code protocol} and {@code cipherSuite} (the session's) give the key usage the leaf needs.
     */
    static Failure check(List<X509Certificate> anchors, X509Certificate[] chain, String protocol, String cipherSuite) {
        try {
            chain[0].checkValidity();
        } catch (CertificateExpiredException | CertificateNotYetValidException e) {
            return new Failure(TlsResultType.CERTIFICATE_EXPIRED.wire(), "certificate expired or not yet valid: " + e.getMessage());
        }
        if (anchors.isEmpty()) {
            // PKIX refuses to run without anchors; with none, nothing is trusted.
            return new Failure(TlsResultType.CERTIFICATE_NOT_TRUSTED.wire(), "no trusted CA is configured");
        }
        try {
            pkix(anchors).checkServerTrusted(chain, authType(protocol, cipherSuite));
            return null;
        } catch (CertificateException e) {
            return new Failure(TlsResultType.CERTIFICATE_NOT_TRUSTED.wire(), e.getMessage());
        }
    }

    /**
     * The authentication type JSSE would pass: the key exchange of a TLS 1.2 suite
     * ({@code ECDHE_RSA} of {@code TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}), {@code UNKNOWN} for
     * TLS 1.3, whose suites do not name one.
     */
    static String authType(String protocol, String cipherSuite) {
        int with = cipherSuite == null ? -1 : cipherSuite.indexOf("_WITH_");
        if ("TLSv1.3".equals(protocol) || with <= 4 || !cipherSuite.startsWith("TLS_")) {
            return "UNKNOWN";
        }
        return cipherSuite.substring(4, with);
    }

    private static X509TrustManager pkix(List<X509Certificate> anchors) {
        Map.Entry<List<X509Certificate>, X509TrustManager> cached = last;
        if (cached != null && cached.getKey() == anchors) {
            return cached.getValue();
        }
        X509TrustManager built = build(anchors);
        last = Map.entry(anchors, built);
        return built;
    }

    private static X509TrustManager build(List<X509Certificate> anchors) {
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
            throw new IllegalStateException(e);
        }
    }

    /** Extended, so that JSSE adds no checks of its own around it. */
    private static final class AcceptAny extends X509ExtendedTrustManager {
        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("not a server");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            throw new CertificateException("not a server");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("not a server");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
