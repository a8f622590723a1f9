package io.tlsgate.platform.identity;

import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * The internal CA, as seen by the service that runs it (cert-service provides the one bean):
 * there {@link InternalIdentity} gets its own identity directly instead of enrolling over
 * the network.
 */
public interface IdentityIssuer {

    /** A certificate chain (leaf first) naming {@code service} for {@code key}. */
    List<X509Certificate> issue(String service, PublicKey key);

    /** The CA certificates every identity chains to. */
    List<X509Certificate> anchors();
}
