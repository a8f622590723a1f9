package io.tlsgate.platform.auth;

import io.quarkus.runtime.Startup;
import io.tlsgate.core.auth.Role;
import io.tlsgate.core.auth.TokenTable;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The configured REST tokens, checked once at start-up: a bad role, a short or a
 * shared token stops the service with a message naming the principal (never the token).
 *
 * <p>Security-sensitive.
 */
@Singleton
@Startup
public class Tokens {

    private static final Logger LOG = Logger.getLogger(Tokens.class);

    private final TokenTable api;

    Tokens(AuthConfig config) {
        List<TokenTable.Entry> entries = new ArrayList<>();
        config.tokens().forEach((name, t) -> {
            Role role;
            try {
                role = Role.parse(t.role());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("tlsgate.auth.tokens." + name + ".role: " + e.getMessage());
            }
            entries.add(new TokenTable.Entry(name, t.token(), role));
        });
        this.api = TokenTable.of(entries);
        if (api.size() == 0) {
            LOG.warn("no REST API tokens configured (tlsgate.auth.tokens.*): every REST call will get 401");
        }
    }

    /** The REST principal of a bearer token. */
    public Optional<TokenTable.Principal> apiPrincipal(String token) {
        return api.lookup(token);
    }
}
