package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.Commands;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A service started as a deployment would start it (no tlsgate.dev-mode), but with
 * development secrets, does not start, and says which settings to change without echoing them.
 */
class ProductionGuardIT {

    private static final Path ROOT = Path.of(System.getProperty("tlsgate.root", "..")).toAbsolutePath().normalize();

    @Test
    void aServiceWithTheDefaultDatabasePasswordAndADevTokenRefusesToStart() {
        for (String service : new String[] {"policy-service", "delivery-service"}) {
            Path jar = ROOT.resolve(service).resolve("target/quarkus-app/quarkus-run.jar");
            assertTrue(Files.exists(jar), jar + " is built");
            String token = "dev-service-" + "5f0c".repeat(8);
            Commands.Result r = Commands.run(Duration.ofSeconds(90), Map.of("QUARKUS_HTTP_PORT", "0", "QUARKUS_GRPC_SERVER_PORT", "0",
                    "TLSGATE_DEV_MODE", "false"), null, "java", "-Dtlsgate.internal-tls.enrollment-tokens." + service + "=" + token,
                    "-jar", jar.toString());
            assertNotEquals(0, r.exit(), service + " started: " + r.output());
            assertTrue(r.output().contains("refusing to start with development secrets outside development"), r.output());
            assertTrue(r.output().contains("quarkus.datasource.password is the built-in default or empty"), r.output());
            assertTrue(r.output().contains("tlsgate.internal-tls.enrollment-tokens." + service + " is a devstack or test token"),
                    r.output());
            assertTrue(!r.output().contains(token), "the token is never printed");
        }
    }
}
