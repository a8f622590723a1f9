package io.tlsgate.platform.identity;

import io.tlsgate.platform.tls.PeerTrust;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.function.Supplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import org.jboss.logging.Logger;

/**
 * Trusts a peer on internal gRPC when its chain leads to the internal CA (the anchors of the
 * current identity, so a CA change applies from the next handshake) and its certificate names
 * a tlsgate service. As a client it also requires the one service it meant to reach: the
 * service identity replaces the host name check, since services are reached by whatever
 * address the deployment gives them.
 *
 * <p>Security-sensitive.
 */
final class IdentityTrustManager extends X509ExtendedTrustManager {

    private static final Logger LOG = Logger.getLogger(IdentityTrustManager.class);

    private final Supplier<PeerTrust> trust;
    private final String expectedServer;

    /**
     * {@code trust}: the internal CA's anchors now (null: none yet); {@code expectedServer}: the
     * service a client expects to reach, null on the server side.
     */
    IdentityTrustManager(Supplier<PeerTrust> trust, String expectedServer) {
        this.trust = trust;
        this.expectedServer = expectedServer;
    }

    private String check(X509Certificate[] chain, PeerTrust.Role role, String authType) throws CertificateException {
        PeerTrust t = trust.get();
        if (t == null) {
            throw new CertificateException("this service has no identity yet");
        }
        PeerTrust.Failure f = t.check(chain, role, authType);
        if (f != null) {
            throw new CertificateException(f.detail());
        }
        String named = ServiceIdentity.of(chain[0]).orElseThrow(() -> new CertificateException(
                "certificate " + chain[0].getSubjectX500Principal() + " names no tlsgate service"));
        if (expectedServer != null && !expectedServer.equals(named)) {
            throw new CertificateException("expected " + expectedServer + " but the server is " + named);
        }
        return named;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        try {
            check(chain, PeerTrust.Role.CLIENT, authType);
        } catch (CertificateException e) {
            LOG.warnf("internal TLS: refused a client certificate: %s", e.getMessage());
            throw e;
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain, PeerTrust.Role.SERVER, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checkClientTrusted(chain, authType, (SSLEngine) null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain, PeerTrust.Role.SERVER, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checkClientTrusted(chain, authType, (SSLEngine) null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, PeerTrust.Role.SERVER, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        PeerTrust t = trust.get();
        return t == null ? new X509Certificate[0] : t.anchors().toArray(new X509Certificate[0]);
    }
}
