package io.tlsgate.testkit;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The real infrastructure of a {@code @QuarkusTest}: one embedded PostgreSQL and one
 * embedded Kafka broker, started on first use and shared by every test of the JVM (they stop
 * when it exits), plus the test tokens of {@link TestTokens} and the service identities of
 * {@link TestIdentities}. Use with
 * {@code @QuarkusTestResource(value = TlsgateTestResources.class, restrictToAnnotatedClass = false)}
 * on one class of a module.
 */
public class TlsgateTestResources implements QuarkusTestResourceLifecycleManager {

    private static EmbeddedPostgresServer postgres;
    private static EmbeddedKafkaBroker kafka;

    /** The shared servers, started on first call. */
    public static synchronized void ensureStarted() {
        if (postgres != null) {
            return;
        }
        try {
            Path work = Files.createTempDirectory("tlsgate-test-");
            // The unpacked binaries are kept between runs; the data is not.
            Path binaries = Path.of(System.getProperty("java.io.tmpdir"), "tlsgate-embedded-pg");
            postgres = EmbeddedPostgresServer.start(0, work.resolve("pg"), binaries, "tlsgate", "tlsgate",
                    "tlsgate-test");
            kafka = EmbeddedKafkaBroker.start(work.resolve("kafka"));
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    kafka.close();
                } catch (Exception ignored) {
                    // the JVM is going away
                }
                try {
                    postgres.close();
                } catch (Exception ignored) {
                    // the JVM is going away
                }
                deleteTree(work);
            }, "tlsgate-test-resources-stop"));
        } catch (Exception e) {
            throw new IllegalStateException("could not start the embedded PostgreSQL/Kafka for tests", e);
        }
    }

    public static EmbeddedPostgresServer postgres() {
        ensureStarted();
        return postgres;
    }

    private static TestDnsServer dns;

    /** The DNS server every service of this test JVM resolves with; tests add their records to it. */
    public static synchronized TestDnsServer dns() {
        if (dns == null) {
            try {
                dns = new TestDnsServer();
            } catch (java.io.IOException e) {
                throw new IllegalStateException("cannot start the test DNS server", e);
            }
        }
        return dns;
    }

    public static String kafkaBootstrapServers() {
        ensureStarted();
        return kafka.bootstrapServers();
    }

    @Override
    public Map<String, String> start() {
        ensureStarted();
        Map<String, String> config = new HashMap<>();
        config.put("quarkus.datasource.jdbc.url", postgres.jdbcUrl());
        config.put("quarkus.datasource.username", postgres.user());
        config.put("quarkus.datasource.password", postgres.password());
        config.put("kafka.bootstrap.servers", kafka.bootstrapServers());
        config.put("tlsgate.dev-mode", "true");
        config.put("tlsgate.auth.tokens.test-admin.token", TestTokens.ADMIN);
        config.put("tlsgate.auth.tokens.test-admin.role", "admin");
        config.put("tlsgate.auth.tokens.test-operator.token", TestTokens.OPERATOR);
        config.put("tlsgate.auth.tokens.test-operator.role", "operator");
        config.put("tlsgate.auth.tokens.test-reader.token", TestTokens.READER);
        config.put("tlsgate.auth.tokens.test-reader.role", "reader");
        config.putAll(TestIdentities.get().config());
        TestIdentities.SERVICES.forEach(s -> config.put("tlsgate.internal-tls.enrollment-tokens." + s, TestTokens.enrollment(s)));
        config.put("tlsgate.cert.master-key", TestTokens.MASTER_KEY);
        config.put("tlsgate.cert.previous-master-keys", TestTokens.PREVIOUS_MASTER_KEY);
        config.put("tlsgate.dns.server", dns().address());
        return config;
    }

    @Override
    public void stop() {
        // Shared across the JVM: stopped by the shutdown hook.
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (Exception ignored) {
            // best effort: it is a temp directory
        }
    }
}
