package io.tlsgate.delivery.smtp;

import io.vertx.core.net.OpenSSLEngineOptions;

/**
 * The TLS implementation outbound connections use: BoringSSL through netty-tcnative
 * ({@code openssl}: a handshake costs a fraction of the JDK's, one X25519 key share instead of
 * the JDK's two) or the JDK's own ({@code jdk}). Both resume the TLS sessions servers hand out.
 */
public enum TlsEngine {
    OPENSSL,
    JDK;

    /** OpenSSL when its native library loads on this platform, else the JDK's. */
    public static TlsEngine preferred() {
        return OpenSSLEngineOptions.isAvailable() ? OPENSSL : JDK;
    }

    /**
     * Whether a TLS failure is one BoringSSL makes in the handshake where the JDK's TLS would
     * complete it: a server certificate whose key usage does not allow the signature (BoringSSL
     * checks it before any verification; for opportunistic TLS the certificate is not judged).
     */
    static boolean refusedOnlyByBoringSsl(String failure) {
        return failure != null && failure.contains("KEY_USAGE_BIT_INCORRECT");
    }

    /** This engine if it can run here; OpenSSL without its native library falls back to the JDK's. */
    public TlsEngine orFallback() {
        return this == OPENSSL ? preferred() : JDK;
    }
}
