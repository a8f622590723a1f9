package io.tlsgate.platform.identity;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Mutual TLS between the services (docs/security.md): where a service's identity comes from.
 *
 * <pre>
 * tlsgate.internal-tls.source=cert-service            # or files
 * tlsgate.internal-tls.cert-service=cert-service:8092 # where to enrol (source cert-service)
 * tlsgate.internal-tls.enrollment-tokens.listener-service=...  # a service's own; cert-service holds all
 * tlsgate.internal-tls.cert-file=/etc/tlsgate/identity/tls.crt # source files (cert-manager's Secret)
 * tlsgate.internal-tls.key-file=/etc/tlsgate/identity/tls.key
 * tlsgate.internal-tls.ca-file=/etc/tlsgate/identity/ca.crt
 * </pre>
 */
@ConfigMapping(prefix = "tlsgate.internal-tls")
public interface InternalTlsConfig {

    /** Where identities come from. */
    enum Source {
        /** cert-service's internal CA: enrolled with a token, renewed before expiry (default). */
        CERT_SERVICE,
        /** PEM files the operator supplies (for example mounted by cert-manager), re-read when they change. */
        FILES
    }

    /** Default: {@code cert-service}. */
    @WithDefault("cert-service")
    Source source();

    /** cert-service's gRPC address ({@code host:port}) for enrolment. Default: {@code localhost:8092}. */
    @WithDefault("localhost:8092")
    String certService();

    /**
     * Enrolment tokens by service name (at least 16 characters each). A service uses its own to
     * get its first identity; cert-service checks every service's. Default: none.
     */
    Map<String, String> enrollmentTokens();

    /** The identity certificate chain, PEM, leaf first (source files). */
    Optional<Path> certFile();

    /** Its private key, PEM PKCS#8 ({@code BEGIN PRIVATE KEY}) (source files). */
    Optional<Path> keyFile();

    /** The CA certificate(s) every service identity is issued by, PEM (source files). */
    Optional<Path> caFile();

    /** How often the files are checked for a change (source files). Default: 1 minute. */
    @WithDefault("1m")
    Duration reloadInterval();

    /** How long an identity cert-service issues is valid; renewed after two thirds. Default: 7 days. */
    @WithDefault("7d")
    Duration lifetime();

    /** How long a starting service keeps trying to enrol before it gives up. Default: 2 minutes. */
    @WithDefault("2m")
    Duration enrollTimeout();
}
