package io.tlsgate.platform.identity;

import io.tlsgate.platform.tls.PeerTrust;
import io.tlsgate.platform.tls.RotatingKeyManager;
import jakarta.inject.Singleton;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The identity this service holds now, where the TLS key and trust managers read it at every
 * handshake. A plain holder on purpose: Quarkus opens the gRPC server before start-up events,
 * so a handshake may come before {@link InternalIdentity} has an identity; it then fails (the
 * peer retries) instead of creating, and waiting for, the identity on a network thread.
 * {@link InternalIdentity} fills it.
 */
@Singleton
public class IdentityState {

    private volatile IdentityMaterial current;
    private volatile IdentityMaterial previous;

    /** Makes {@code next} the identity of every new handshake; the one before stays readable for handshakes under way. */
    synchronized void use(IdentityMaterial next) {
        previous = current;
        current = next;
    }

    /** The identity now (null before the first). */
    public IdentityMaterial current() {
        return current;
    }

    /** Presents the current identity (client and server side). */
    public X509ExtendedKeyManager keyManager() {
        return new RotatingKeyManager(() -> version(current), () -> version(previous));
    }

    /** Trusts clients holding any service identity of the internal CA (who may do what is the server's rules). */
    public X509ExtendedTrustManager clientTrust() {
        return new IdentityTrustManager(this::trust, null);
    }

    /** Trusts only the server that holds {@code expectedService}'s identity. */
    public X509ExtendedTrustManager serverTrust(String expectedService) {
        return new IdentityTrustManager(this::trust, ServiceIdentity.known(expectedService));
    }

    private PeerTrust trust() {
        IdentityMaterial m = current;
        return m == null ? null : m.trust();
    }

    private static RotatingKeyManager.Version version(IdentityMaterial m) {
        return m == null ? null : new RotatingKeyManager.Version(m.alias(), m.key(), m.chain());
    }
}
