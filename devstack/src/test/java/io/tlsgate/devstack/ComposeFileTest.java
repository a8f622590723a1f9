package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * deploy/compose: the compose file names the images -Pimages builds, runs them as their user on
 * read-only file systems with the ports and service addresses the services expect, and gives
 * each service only its own secrets file; make-secrets.sh writes those files the way the
 * services need them. (No Compose runs on these machines: the file is read as Compose reads
 * YAML, merge keys included.)
 */
class ComposeFileTest {

    private static final Path ROOT = Path.of(System.getProperty("tlsgate.root", "..")).toAbsolutePath().normalize();
    private static final List<String> SERVICES = DevStack.SERVICES.stream().map(Map.Entry::getKey).toList();

    @Test
    @SuppressWarnings("unchecked")
    void composeRunsTheBuiltImagesHardenedWithTheirOwnSecrets() throws Exception {
        Map<String, Object> compose = new Yaml().load(Files.readString(ROOT.resolve("deploy/compose/compose.yaml")));
        Map<String, Map<String, Object>> services = (Map<String, Map<String, Object>>) compose.get("services");
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        String tag = property(pom, "tlsgate.image.tag");
        String prefix = property(pom, "tlsgate.image.prefix");
        for (Map.Entry<String, Integer> s : DevStack.SERVICES) {
            Map<String, Object> svc = services.get(s.getKey());
            assertEquals(prefix + s.getKey() + ":" + tag, svc.get("image"));
            assertEquals("65532:65532", svc.get("user"), s.getKey());
            assertEquals(Boolean.TRUE, svc.get("read_only"), s.getKey());
            assertEquals(List.of("ALL"), svc.get("cap_drop"), s.getKey());
            assertEquals(List.of("./secrets/" + s.getKey() + ".properties:/etc/tlsgate/secrets/secrets.properties:ro"),
                    svc.get("volumes"), s.getKey() + " mounts its own secrets only");
            assertTrue(((List<String>) svc.get("ports")).contains(s.getValue() + ":" + s.getValue()), s.getKey());
            Map<String, Object> env = (Map<String, Object>) svc.get("environment");
            assertEquals("/etc/tlsgate/secrets/secrets.properties", env.get("QUARKUS_CONFIG_LOCATIONS"));
            assertEquals("cert-service:8092", env.get("TLSGATE_INTERNAL_TLS_CERT_SERVICE"));
        }
        Map<String, Object> listener = (Map<String, Object>) services.get("listener-service").get("environment");
        assertEquals("delivery-service:8093", listener.get("TLSGATE_LISTENER_DELIVERY_SERVICE"));
        assertEquals("policy-service:8091", listener.get("TLSGATE_LISTENER_POLICY_SERVICE"));
        assertTrue(((List<String>) services.get("listener-service").get("ports")).contains("25:2525"));
    }

    @Test
    void makeSecretsGivesEachServiceOnlyWhatItNeeds() throws Exception {
        Path dir = Files.createTempDirectory("tlsgate-compose-secrets-");
        io.tlsgate.testkit.Commands.Result r = io.tlsgate.testkit.Commands.run(java.time.Duration.ofMinutes(1),
                Map.of("TLSGATE_COMPOSE_SECRETS", dir.toString()), null, "bash",
                ROOT.resolve("deploy/compose/make-secrets.sh").toString());
        assertEquals(0, r.exit(), r.output());
        String db = Files.readString(dir.resolve("db-password"));
        assertEquals(64, db.length());
        Map<String, Properties> files = new java.util.HashMap<>();
        for (String s : SERVICES) {
            Properties p = new Properties();
            try (var in = Files.newBufferedReader(dir.resolve(s + ".properties"))) {
                p.load(in);
            }
            files.put(s, p);
            assertEquals(db, p.getProperty("quarkus.datasource.password"), s);
            assertEquals("admin", p.getProperty("tlsgate.auth.tokens.admin.role"), s);
            assertTrue(r.output().contains(p.getProperty("tlsgate.auth.tokens.admin.token")), "the admin token is printed");
            long tokens = p.stringPropertyNames().stream().filter(k -> k.startsWith("tlsgate.internal-tls.enrollment-tokens.")).count();
            assertEquals(s.equals("cert-service") ? 4 : 1, tokens, s);
            assertEquals(s.equals("cert-service"), p.containsKey("tlsgate.cert.master-key"), s);
        }
        for (String s : SERVICES) {
            String token = files.get(s).getProperty("tlsgate.internal-tls.enrollment-tokens." + s);
            assertTrue(token.length() >= 32, s);
            assertEquals(token, files.get("cert-service").getProperty("tlsgate.internal-tls.enrollment-tokens." + s));
        }
        assertEquals(4, SERVICES.stream().map(s -> files.get(s).getProperty("tlsgate.internal-tls.enrollment-tokens." + s))
                .distinct().count(), "no two services share a token");
        assertEquals(32, Base64.getDecoder().decode(files.get("cert-service").getProperty("tlsgate.cert.master-key")).length);
        // A second run keeps what exists.
        io.tlsgate.testkit.Commands.Result again = io.tlsgate.testkit.Commands.run(java.time.Duration.ofMinutes(1),
                Map.of("TLSGATE_COMPOSE_SECRETS", dir.toString()), null, "bash",
                ROOT.resolve("deploy/compose/make-secrets.sh").toString());
        assertEquals(0, again.exit(), again.output());
        assertEquals(db, Files.readString(dir.resolve("db-password")));
        assertFalse(again.output().contains(files.get("cert-service").getProperty("tlsgate.auth.tokens.admin.token")));
        try (var f = Files.list(dir)) {
            f.forEach(p -> p.toFile().delete());
        }
        Files.delete(dir);
    }

    private static String property(String pom, String name) {
        Matcher m = Pattern.compile("<" + Pattern.quote(name) + ">([^<]+)</").matcher(pom);
        assertTrue(m.find(), name);
        return m.group(1);
    }
}
