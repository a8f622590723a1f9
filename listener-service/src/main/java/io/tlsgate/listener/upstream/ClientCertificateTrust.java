package io.tlsgate.listener.upstream;

import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.platform.tls.PeerTrust;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Verifies the client certificates the *_VERIFY mail flow policies ask for, during the
 * handshake: platform's {@link PeerTrust} check against the system bundle plus the operator's
 * CAs from cert-service (swapped in place when they change). A failure aborts the handshake
 * with a {@link Rejected} that names an RFC 8460 result type.
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

    private volatile PeerTrust trust = PeerTrust.systemAnd(List.of());

    /** Replaces the operator CAs (the system bundle always stays). */
    public void operatorCas(List<X509Certificate> cas) {
        trust = PeerTrust.systemAnd(cas);
    }

    public int anchorCount() {
        return trust.anchors().size();
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, authType);
    }

    private void check(X509Certificate[] chain, String authType) throws Rejected {
        PeerTrust.Failure f = trust.check(chain, PeerTrust.Role.CLIENT, authType);
        if (f != null) {
            throw new Rejected(f.type(), f.detail(), null);
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
}
