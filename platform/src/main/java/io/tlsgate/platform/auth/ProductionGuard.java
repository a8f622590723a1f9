package io.tlsgate.platform.auth;

import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import io.tlsgate.platform.identity.InternalTlsConfig;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Refuses to start a service outside development with secrets that only development may use:
 * the built-in database password, or an API or enrolment token that devstack ({@code dev-...})
 * or the tests ({@code test-...}) generate. Development is {@code tlsgate.dev-mode=true}, which
 * devstack and the tests set; a deployment leaves it unset (docs/security.md). cert-service's
 * master key has no default at all, so a service without one does not start either.
 */
@ApplicationScoped
public class ProductionGuard {

    /** The datasource password the shared configuration ships with, for devstack's embedded PostgreSQL. */
    static final String DEFAULT_DB_PASSWORD = "tlsgate";
    /** Prefixes of the tokens devstack and the tests generate. */
    static final List<String> DEV_TOKEN_PREFIXES = List.of("dev-", "test-");

    private final boolean devMode;
    private final Optional<String> dbPassword;
    private final AuthConfig auth;
    private final InternalTlsConfig internalTls;

    ProductionGuard(@ConfigProperty(name = "tlsgate.dev-mode", defaultValue = "false") boolean devMode,
            @ConfigProperty(name = "quarkus.datasource.password") Optional<String> dbPassword, AuthConfig auth,
            InternalTlsConfig internalTls) {
        this.devMode = devMode;
        this.dbPassword = dbPassword;
        this.auth = auth;
        this.internalTls = internalTls;
    }

    /** Before anything else starts, schema migrations included. */
    void check(@Observes @Priority(0) StartupEvent ignored) {
        if (devMode) {
            return;
        }
        Map<String, String> tokens = new TreeMap<>();
        auth.tokens().forEach((name, t) -> tokens.put("tlsgate.auth.tokens." + name + ".token", t.token()));
        internalTls.enrollmentTokens().forEach((service, t) -> tokens.put("tlsgate.internal-tls.enrollment-tokens." + service, t));
        List<String> problems = problems(dbPassword, tokens);
        if (!problems.isEmpty()) {
            throw new IllegalStateException("refusing to start with development secrets outside development "
                    + "(tlsgate.dev-mode is not true): " + String.join("; ", problems));
        }
    }

    /** What is wrong with these secrets for a deployment; empty when nothing is. Never echoes a secret. */
    static List<String> problems(Optional<String> dbPassword, Map<String, String> tokens) {
        List<String> out = new ArrayList<>();
        if (dbPassword.isEmpty() || dbPassword.get().isBlank() || dbPassword.get().equals(DEFAULT_DB_PASSWORD)) {
            out.add("quarkus.datasource.password is the built-in default or empty");
        }
        tokens.forEach((key, token) -> {
            if (DEV_TOKEN_PREFIXES.stream().anyMatch(token::startsWith)) {
                out.add(key + " is a devstack or test token");
            }
        });
        return out;
    }
}
