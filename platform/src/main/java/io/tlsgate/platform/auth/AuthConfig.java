package io.tlsgate.platform.auth;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.Map;

/**
 * Who may call a service. In a deployment these values come from a Kubernetes Secret;
 * devstack generates them.
 *
 * <pre>
 * tlsgate.auth.tokens.alice.token=...   # at least 16 characters
 * tlsgate.auth.tokens.alice.role=admin  # admin | operator | reader
 * </pre>
 */
@ConfigMapping(prefix = "tlsgate.auth")
public interface AuthConfig {

    /** REST API tokens by principal name. Default: none, so every REST call is refused with 401. */
    Map<String, ApiToken> tokens();

    /** One REST API token. */
    interface ApiToken {
        /** The bearer token; no default, at least 16 characters. */
        String token();

        /** {@code admin}, {@code operator} or {@code reader}. Default: {@code reader}. */
        @WithDefault("reader")
        String role();
    }
}
