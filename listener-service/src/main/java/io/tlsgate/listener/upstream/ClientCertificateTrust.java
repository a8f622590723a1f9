package io.tlsgate.listener.upstream;

import io.tlsgate.core.tls.TlsResultType;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Verifies the client certificates the *_VERIFY mail flow policies ask for: PKIX against the
 * system bundle plus the operator's CAs from cert-service (swapped in place when they change),
 * validity dates, and TLS client authentication in the extended key usage when it has one.
 * A failure aborts the handshake with a {@link Rejected} that names an RFC 8460 result type.
 * It never serves as a server-side trust manager (listeners do not verify themselves).
 */
public final class ClientCertificateTrust extends X509ExtendedTrustManager {

    /** A refused client certificate, with the RFC 8460 result type for the outcome event. */
    public static final class Rejected extends CertificateException {
        private final TlsResultType resultType;

        Rejected(TlsResultType resultType, String message, Throwable cause) {
            super(message, cause);
            this.resultType = resultType;
        }

        public TlsResultType resultType() {
            return resultType;
        }
    }

    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
    private static final String ANY_EKU = "2.5.29.37.0";
    private static final List<X509Certificate> SYSTEM = io.tlsgate.platform.tls.KeyMaterial.systemAnchors();

    private volatile Set<TrustAnchor> anchors = anchors(List.of());

    /** Replaces the operator CAs (the system bundle always stays). */
    public void operatorCas(List<X509Certificate> cas) {
        anchors = anchors(cas);
    }

    public int anchorCount() {
        return anchors.size();
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain);
    }

    void check(X509Certificate[] chain) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new Rejected(TlsResultType.VALIDATION_FAILURE, "no client certificate", null);
        }
        X509Certificate leaf = chain[0];
        try {
            leaf.checkValidity();
        } catch (CertificateExpiredException | CertificateNotYetValidException e) {
            throw new Rejected(TlsResultType.CERTIFICATE_EXPIRED, "client certificate " + leaf.getSubjectX500Principal() + " is not valid now", e);
        }
        try {
            List<String> eku = leaf.getExtendedKeyUsage();
            if (eku != null && !eku.contains(CLIENT_AUTH) && !eku.contains(ANY_EKU)) {
                throw new Rejected(TlsResultType.VALIDATION_FAILURE, "client certificate " + leaf.getSubjectX500Principal()
                        + " is not for TLS client authentication", null);
            }
        } catch (CertificateParsingException e) {
            throw new Rejected(TlsResultType.VALIDATION_FAILURE, "client certificate cannot be read", e);
        }
        try {
            PKIXParameters params = new PKIXParameters(anchors);
            params.setRevocationEnabled(false);
            CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509")
                    .generateCertPath(Arrays.asList(chain)), params);
        } catch (CertPathValidatorException e) {
            throw new Rejected(TlsResultType.CERTIFICATE_NOT_TRUSTED, "client certificate " + leaf.getSubjectX500Principal()
                    + " is not trusted: " + e.getMessage(), e);
        } catch (GeneralSecurityException e) {
            throw new Rejected(TlsResultType.VALIDATION_FAILURE, "client certificate " + leaf.getSubjectX500Principal()
                    + " cannot be validated: " + e.getMessage(), e);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        throw new CertificateException("a listener does not verify servers");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        throw new CertificateException("a listener does not verify servers");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("a listener does not verify servers");
    }

    /** None: the certificate request names no CAs, so a client sends the certificate it has (kept small). */
    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }

    private static Set<TrustAnchor> anchors(List<X509Certificate> operator) {
        Set<TrustAnchor> out = new HashSet<>();
        for (X509Certificate c : SYSTEM) {
            out.add(new TrustAnchor(c, null));
        }
        for (X509Certificate c : operator) {
            out.add(new TrustAnchor(c, null));
        }
        return Set.copyOf(out);
    }
}
