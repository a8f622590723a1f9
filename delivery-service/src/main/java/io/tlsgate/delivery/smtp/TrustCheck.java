package io.tlsgate.delivery.smtp;

import java.security.KeyStore;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Checks the chain against the anchors but never fails the handshake: the mode decides
 * what a bad certificate means, so the failure is recorded for {@link #failureType}.
 */
final class TrustCheck implements X509TrustManager {
    /**
     * The PKIX trust manager of the last anchors seen: building one from the ~150 anchors of
     * the system bundle costs more than a handshake, and every connection between two
     * refreshes of cert-service's material gets the same list.
     */
    private static volatile Map.Entry<List<X509Certificate>, X509TrustManager> last;

    private final X509TrustManager pkix;
    private String failureType;
    private String failure;

    TrustCheck(List<X509Certificate> anchors) {
        pkix = anchors.isEmpty() ? null : pkix(anchors); // PKIX refuses to run without anchors; with none, nothing is trusted
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

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {
        try {
            chain[0].checkValidity();
        } catch (CertificateExpiredException | CertificateNotYetValidException e) {
            failureType = "certificate-expired";
            failure = "certificate expired or not yet valid: " + e.getMessage();
            return;
        }
        if (pkix == null) {
            failureType = "certificate-not-trusted";
            failure = "no trusted CA is configured";
            return;
        }
        try {
            pkix.checkServerTrusted(chain, authType);
        } catch (java.security.cert.CertificateException e) {
            failureType = "certificate-not-trusted";
            failure = e.getMessage();
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
        throw new UnsupportedOperationException();
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }

    String failureType() {
        return failureType;
    }

    String failure() {
        return failure;
    }
}
