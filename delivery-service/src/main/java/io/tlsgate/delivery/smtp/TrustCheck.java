package io.tlsgate.delivery.smtp;

import java.security.KeyStore;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Checks the chain against the anchors but never fails the handshake: the mode decides
 * what a bad certificate means, so the failure is recorded for {@link #failureType}.
 */
final class TrustCheck implements X509TrustManager {
    private final X509TrustManager pkix;
    private String failureType;
    private String failure;

    TrustCheck(List<X509Certificate> anchors) {
        if (anchors.isEmpty()) {
            // PKIX refuses to run without anchors; with none, no chain can be trusted.
            pkix = null;
            return;
        }
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            int i = 0;
            for (X509Certificate a : anchors) {
                ks.setCertificateEntry("a" + i++, a);
            }
            TrustManagerFactory f = TrustManagerFactory.getInstance("PKIX");
            f.init(ks);
            pkix = (X509TrustManager) f.getTrustManagers()[0];
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
