package io.tlsgate.cert;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** cert-service settings ({@code tlsgate.cert.*}). */
@ConfigMapping(prefix = "tlsgate.cert")
public interface CertConfig {

    /** Largest PEM document accepted in one upload, in bytes. Default: 65536. */
    @WithDefault("65536")
    int maxPemSize();

    /**
     * The master key that seals every private key at rest: base64 of 32 random bytes (e.g.
     * {@code openssl rand -base64 32}), from a Kubernetes Secret in a deployment. Required;
     * the service does not start without it. Never logged.
     */
    String masterKey();

    /**
     * Earlier master keys (base64, comma-separated) during a rotation: keys sealed under them
     * still open, and are re-sealed under {@link #masterKey()} in the background. Default: none.
     */
    java.util.Optional<java.util.List<String>> previousMasterKeys();

    /** How often keys sealed under a previous master key are looked for and re-sealed. Default: 10m. */
    @WithDefault("10m")
    java.time.Duration rewrapInterval();

    /** Certificates expiring within this many days raise a daily alert. Default: 30. */
    @WithDefault("30")
    int expiryWarningDays();

    /** How often certificates are checked for expiry. Default: 1h. */
    @WithDefault("1h")
    java.time.Duration expiryCheckInterval();

    /** The host name (CN and DNS SAN) of the demo certificate made on the first start. Default: localhost. */
    @WithDefault("localhost")
    String demoHostname();
}
