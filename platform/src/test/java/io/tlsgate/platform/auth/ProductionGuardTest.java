package io.tlsgate.platform.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Which secrets a deployment may not start with. */
class ProductionGuardTest {

    private static final String GOOD = "9f4c2b1e7d6a5c3b2a1f0e9d8c7b6a5f";

    @Test
    void realSecretsPass() {
        assertEquals(List.of(), ProductionGuard.problems(Optional.of("s3cret-from-a-vault"),
                Map.of("tlsgate.auth.tokens.alice.token", GOOD, "tlsgate.internal-tls.enrollment-tokens.listener-service", "svc-" + GOOD)));
    }

    @Test
    void theDefaultOrNoDatabasePasswordIsRefused() {
        for (Optional<String> pw : List.of(Optional.of("tlsgate"), Optional.of(" "), Optional.<String>empty())) {
            assertEquals(List.of("quarkus.datasource.password is the built-in default or empty"),
                    ProductionGuard.problems(pw, Map.of()), pw.toString());
        }
    }

    @Test
    void devstackAndTestTokensAreRefusedByNameNeverByValue() {
        List<String> problems = ProductionGuard.problems(Optional.of("s3cret"), new TreeMap<>(Map.of(
                "tlsgate.auth.tokens.dev-admin.token", "dev-admin-0123456789abcdef",
                "tlsgate.auth.tokens.ops.token", "test-operator-0123456789",
                "tlsgate.internal-tls.enrollment-tokens.listener-service", "dev-service-0123456789abcdef",
                "tlsgate.auth.tokens.alice.token", GOOD)));
        assertEquals(List.of("tlsgate.auth.tokens.dev-admin.token is a devstack or test token",
                "tlsgate.auth.tokens.ops.token is a devstack or test token",
                "tlsgate.internal-tls.enrollment-tokens.listener-service is a devstack or test token"), problems);
        assertTrue(problems.stream().noneMatch(p -> p.contains("0123456789")), "no secret in the message");
    }
}
