package io.tlsgate.platform.tls;

import io.netty.handler.ssl.OpenSsl;
import org.jboss.logging.Logger;

/**
 * The TLS implementation a service's SMTP connections use ({@code tlsgate.delivery.tls-engine},
 * {@code tlsgate.listener.tls-engine}): BoringSSL through netty-tcnative ({@code openssl}: a
 * handshake costs a fraction of the JDK's, one X25519 key share instead of the JDK's two) or the
 * JDK's own ({@code jdk}).
 */
public enum TlsEngine {
    OPENSSL,
    JDK;

    private static final Logger LOG = Logger.getLogger(TlsEngine.class);

    /** OpenSSL when its native library loads on this platform, else the JDK's. */
    public static TlsEngine preferred() {
        return OpenSsl.isAvailable() ? OPENSSL : JDK;
    }

    /** This engine if it can run here; OpenSSL without its native library falls back to the JDK's. */
    public TlsEngine orFallback() {
        return this == OPENSSL ? preferred() : JDK;
    }

    /** {@link #orFallback}, with a warning naming {@code setting} when the configured engine cannot load. */
    public TlsEngine usable(String setting) {
        TlsEngine engine = orFallback();
        if (engine != this) {
            LOG.warnf("%s=openssl: OpenSSL (netty-tcnative) cannot load on this platform (%s); TLS uses the JDK's",
                    setting, OpenSsl.unavailabilityCause());
        }
        return engine;
    }

    /**
     * Whether a TLS failure is BoringSSL refusing a peer certificate whose key usage does not
     * allow the signature: it checks that in the handshake, before any trust manager sees the
     * certificate, where the JDK's TLS completes the handshake and leaves the verdict to us.
     */
    public static boolean keyUsageRefused(String failure) {
        return failure != null && failure.contains("KEY_USAGE_BIT_INCORRECT");
    }
}
