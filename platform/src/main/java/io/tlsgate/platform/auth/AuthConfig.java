package io.tlsgate.platform.auth;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.Map;
import java.util.Optional;

/**
 * Who may call a service. In a deployment these values come from a Kubernetes Secret;
 * devstack generates them.
 *
 * <pre>
 * tlsgate.auth.tokens.alice.token=...   # at least 16 characters
 * tlsgate.auth.tokens.alice.role=admin  # admin | operator | reader
 * tlsgate.auth.service-token=...        # shared by the services for internal gRPC
 * </pre>
 */
@ConfigMapping(prefix = "tlsgate.auth")
public interface AuthConfig {

    /** REST API tokens by principal name. Default: none, so every REST call is refused with 401. */
    Map<String, ApiToken> tokens();

    /**
     * The token services present to each other on internal gRPC calls (metadata
     * {@code authorization: Bearer <token>}). Default: none, so every incoming gRPC call is
     * refused with UNAUTHENTICATED and outgoing calls carry no token.
     */
    Optional<String> serviceToken();

    /** One REST API token. */
    interface ApiToken {
        /** The bearer token; no default, at least 16 characters. */
        String token();

        /** {@code admin}, {@code operator} or {@code reader}. Default: {@code reader}. */
        @WithDefault("reader")
        String role();
    }
}
