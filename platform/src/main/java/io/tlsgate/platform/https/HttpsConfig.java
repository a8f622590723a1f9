package io.tlsgate.platform.https;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;

/**
 * HTTPS for the REST API (docs/security.md). It is on when
 * {@code quarkus.http.tls-configuration-name=tlsgate-https} (the shipped default outside the
 * tests); the certificate is cert-service's {@code https} slot, followed while it changes.
 */
@ConfigMapping(prefix = "tlsgate.https")
public interface HttpsConfig {

    /** The cert-service slot whose key and chain the REST port serves. Default: {@code https}. */
    @WithDefault("https")
    String slot();

    /** Protocols offered. Default: TLS 1.3 and 1.2. */
    @WithDefault("TLSv1.3,TLSv1.2")
    List<String> protocols();

    /** Cipher suites offered (those the JDK knows). Default: TLS 1.3 suites and ECDHE with AES-GCM or ChaCha20-Poly1305. */
    @WithDefault("TLS_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256,TLS_CHACHA20_POLY1305_SHA256,"
            + "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,"
            + "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
            + "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
    List<String> ciphers();

    /**
     * How long a starting service waits for its first certificate from cert-service before it
     * serves a temporary self-signed one. Default: 20 seconds.
     */
    @WithDefault("20s")
    Duration startTimeout();
}
