package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The Helm chart (helm/tlsgate), offline with real Helm embedded (helm-java): strict lint, then
 * what it renders with its default values, with deploy/values-production.yaml and with
 * chart-made secrets, checked object by object; and values.schema.json refusing bad values.
 */
class HelmChartTest {

    private static final Path ROOT = Path.of(System.getProperty("tlsgate.root", "..")).toAbsolutePath().normalize();
    private static final Path CHART = ROOT.resolve("helm/tlsgate");
    private static final YAMLMapper YAML = new YAMLMapper();
    private static final List<String> SERVICES = DevStack.SERVICES.stream().map(Map.Entry::getKey).toList();

    @Test
    void lintsStrictly() {
        LintResult r = new Helm(CHART).lint().strict().call();
        assertFalse(r.isFailed(), String.join("\n", r.getMessages()));
    }

    @Test
    void defaultValuesRenderFourHardenedServicesOnHttpsWithMutualTlsPorts() throws Exception {
        List<JsonNode> objects = render(t -> t);
        for (String s : SERVICES) {
            JsonNode d = one(objects, "Deployment", "tls-" + s);
            JsonNode pod = d.at("/spec/template/spec");
            JsonNode c = pod.at("/containers/0");
            assertEquals("tlsgate/" + s + ":0.1.0", c.get("image").asText());
            assertEquals(s.startsWith("delivery") || s.startsWith("listener") ? 3 : 2, d.at("/spec/replicas").asInt(), s);
            for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
                assertEquals("HTTPS", c.at("/" + probe + "/httpGet/scheme").asText(), s + " " + probe);
                assertEquals("https", c.at("/" + probe + "/httpGet/port").asText(), s + " " + probe);
            }
            assertEquals("/q/health/live", c.at("/livenessProbe/httpGet/path").asText());
            assertEquals("/q/health/ready", c.at("/readinessProbe/httpGet/path").asText());
            assertTrue(pod.at("/securityContext/runAsNonRoot").asBoolean(), s);
            // The images' user (-Pimages, ReplicasClusterIT runs one as it).
            assertEquals(65532, pod.at("/securityContext/runAsUser").asInt(), s);
            assertTrue(c.at("/securityContext/readOnlyRootFilesystem").asBoolean(), s);
            assertFalse(pod.at("/automountServiceAccountToken").asBoolean(true), s);
            assertEquals("tls-" + s, pod.at("/serviceAccountName").asText());
            assertEquals("/etc/tlsgate/config/application.properties,/etc/tlsgate/secrets/secrets.properties",
                    env(c, "QUARKUS_CONFIG_LOCATIONS").get("value").asText());
            assertEquals("tlsgate-db-app", env(c, "QUARKUS_DATASOURCE_PASSWORD").at("/valueFrom/secretKeyRef/name").asText());
            assertEquals("tlsgate-" + s, volume(pod, "secrets").at("/secret/secretName").asText(), "existingSecret per service");
            Set<String> ports = names(c.get("ports"));
            assertTrue(ports.contains("https"), s);
            assertEquals(!s.startsWith("listener"), ports.contains("grpc"), s + " gRPC port");
            assertNotNull(one(objects, "PodDisruptionBudget", "tls-" + s));
            assertNotNull(one(objects, "Service", "tls-" + s));
            if (!s.startsWith("listener")) {
                // gRPC callers resolve a headless Service: every replica, spread round-robin.
                JsonNode grpc = one(objects, "Service", "tls-" + s + "-grpc");
                assertEquals("None", grpc.at("/spec/clusterIP").asText(), s);
                assertEquals("grpc", grpc.at("/spec/ports/0/targetPort").asText(), s);
            }
            // Configuration but never a secret in a ConfigMap.
            String props = one(objects, "ConfigMap", "tls-" + s + "-config").at("/data/application.properties").asText();
            assertTrue(props.contains("tlsgate.internal-tls.cert-service=tls-cert-service-grpc:8092"), props);
            assertTrue(props.contains("kafka.bootstrap.servers=tlsgate-kafka-kafka-bootstrap:9093"), props);
            for (String secret : List.of("password=", ".token=", "master-key", "enrollment-tokens", "jaas")) {
                assertFalse(props.contains(secret), s + " ConfigMap holds " + secret + ":\n" + props);
            }
        }
        String listener = one(objects, "ConfigMap", "tls-listener-service-config").at("/data/application.properties").asText();
        assertTrue(listener.contains("tlsgate.listener.delivery-service=tls-delivery-service-grpc:8093"), listener);
        JsonNode smtp = one(objects, "Service", "tls-listener-service-smtp");
        assertEquals("LoadBalancer", smtp.at("/spec/type").asText());
        assertEquals(25, smtp.at("/spec/ports/0/port").asInt());
        assertEquals("smtp", smtp.at("/spec/ports/0/targetPort").asText());
        assertEquals("Local", smtp.at("/spec/externalTrafficPolicy").asText());
        assertTrue(objects.stream().noneMatch(o -> o.get("kind").asText().equals("Secret")), "existingSecret: the chart makes none");
        assertTrue(objects.stream().noneMatch(o -> o.get("kind").asText().equals("HorizontalPodAutoscaler")));
    }

    @Test
    void networkPoliciesAllowOnlyTheDocumentedGrpcCalls() throws Exception {
        List<JsonNode> objects = render(t -> t);
        assertEquals(Set.of("delivery-service", "listener-service"), grpcCallers(objects, "policy-service", 8091));
        assertEquals(Set.copyOf(SERVICES), grpcCallers(objects, "cert-service", 8092));
        assertEquals(Set.of("listener-service"), grpcCallers(objects, "delivery-service", 8093));
        JsonNode listener = one(objects, "NetworkPolicy", "tls-listener-service");
        boolean smtpOpen = false;
        for (JsonNode rule : listener.at("/spec/ingress")) {
            if (rule.at("/ports/0/port").asInt() == 2525) {
                smtpOpen = !rule.has("from");
            }
        }
        assertTrue(smtpOpen, "SMTP open to everyone: " + listener);
        assertEquals(List.of("Ingress"), List.of(listener.at("/spec/policyTypes/0").asText()));
    }

    @Test
    void productionExampleRendersAutoscaledReplicasAndExternalKafka() throws Exception {
        List<JsonNode> objects = render(t -> t.withValuesFile(ROOT.resolve("deploy/values-production.yaml")));
        for (String s : List.of("delivery-service", "listener-service")) {
            JsonNode hpa = one(objects, "HorizontalPodAutoscaler", "tls-" + s);
            assertEquals(3, hpa.at("/spec/minReplicas").asInt());
            assertEquals(10, hpa.at("/spec/maxReplicas").asInt());
            assertTrue(one(objects, "Deployment", "tls-" + s).at("/spec/replicas").isMissingNode(), "the HPA owns replicas");
            assertEquals("registry.example.com/tlsgate/" + s + ":0.1.0",
                    one(objects, "Deployment", "tls-" + s).at("/spec/template/spec/containers/0/image").asText());
        }
        assertEquals(2, one(objects, "Deployment", "tls-policy-service").at("/spec/replicas").asInt());
        String delivery = one(objects, "ConfigMap", "tls-delivery-service-config").at("/data/application.properties").asText();
        assertTrue(delivery.contains("kafka.security.protocol=SASL_SSL"), delivery);
        assertTrue(delivery.contains("tlsgate.delivery.helo-name=mail.example.com"), delivery);
        assertTrue(delivery.contains("sslmode=verify-full"), delivery);
        assertEquals(4, objects.stream().filter(o -> o.get("kind").asText().equals("ServiceMonitor")).count());
    }

    /** deploy/manifests/tlsgate.yaml is exactly the chart rendered with the production example, under its banner. */
    @Test
    void thePlainManifestsAreTheChartRenderedWithTheProductionExample() throws Exception {
        Path file = ROOT.resolve("deploy/manifests/tlsgate.yaml");
        String expected = MANIFEST_BANNER + new Helm(CHART).template().withName("tlsgate").withNamespace("tlsgate")
                .withValuesFile(ROOT.resolve("deploy/values-production.yaml")).call();
        if (Boolean.getBoolean("tlsgate.regenerate")) {
            java.nio.file.Files.createDirectories(file.getParent());
            java.nio.file.Files.writeString(file, expected);
        }
        assertEquals(expected, java.nio.file.Files.readString(file),
                "deploy/manifests/tlsgate.yaml is stale: ./mvnw test -pl devstack -Dtest=HelmChartTest -Dtlsgate.regenerate=true");
    }

    private static final String MANIFEST_BANNER = """
            # Generated by HelmChartTest from helm/tlsgate with deploy/values-production.yaml
            # (release tlsgate, namespace tlsgate). Do not edit: change the chart or the values, then
            # ./mvnw test -pl devstack -Dtest=HelmChartTest -Dtlsgate.regenerate=true
            """;

    @Test
    void chartMadeSecretsGiveEachServiceOnlyItsOwnEnrolmentTokenAndCertServiceTheMasterKey() throws Exception {
        List<JsonNode> objects = render(HelmChartTest::ownSecrets);
        for (String s : SERVICES) {
            String props = one(objects, "Secret", "tls-" + s + "-secrets").at("/stringData/secrets.properties").asText();
            assertTrue(props.contains("tlsgate.auth.tokens.ops.token=ops-token-0123456789"), props);
            assertTrue(props.contains("tlsgate.internal-tls.enrollment-tokens." + s + "="), props);
            for (String other : SERVICES) {
                if (!other.equals(s) && !s.equals("cert-service")) {
                    assertFalse(props.contains("enrollment-tokens." + other), s + " holds " + other + "'s token");
                }
            }
            assertEquals(s.equals("cert-service"), props.contains("tlsgate.cert.master-key="), s);
            assertEquals(s.equals("delivery-service") || s.equals("listener-service"),
                    props.contains("tlsgate.bounce-verification.keys=1:b3V0Ym91bmQgdGFnZ2luZyBrZXkgMzI="), s);
        }
    }

    @Test
    void theChartNamesTheImagesTheBuildMakes() throws Exception {
        String pom = java.nio.file.Files.readString(ROOT.resolve("pom.xml"));
        JsonNode chart = YAML.readTree(CHART.resolve("Chart.yaml").toFile());
        java.util.regex.Matcher tag = java.util.regex.Pattern.compile("<tlsgate.image.tag>([^<]+)</").matcher(pom);
        java.util.regex.Matcher prefix = java.util.regex.Pattern.compile("<tlsgate.image.prefix>([^<]+)</").matcher(pom);
        assertTrue(tag.find() && prefix.find(), "pom.xml sets tlsgate.image.tag and tlsgate.image.prefix");
        assertEquals(chart.get("appVersion").asText(), tag.group(1), "-Pimages tags what the chart pulls by default");
        List<JsonNode> objects = render(t -> t);
        for (String s : SERVICES) {
            assertEquals(prefix.group(1) + s + ":" + tag.group(1),
                    one(objects, "Deployment", "tls-" + s).at("/spec/template/spec/containers/0/image").asText());
        }
    }

    /** Our own domains' MTA-STS policies: an Ingress for that one path only, the controller admitted to policy-service. */
    @Test
    void theMtaStsIngressRoutesOnlyThePolicyPathToPolicyService() throws Exception {
        List<JsonNode> objects = render(HelmChartTest::mtaSts);
        JsonNode ingress = one(objects, "Ingress", "tls-policy-service-mta-sts");
        assertEquals("mta-sts.example.com", ingress.at("/spec/rules/0/host").asText());
        JsonNode path = ingress.at("/spec/rules/0/http/paths/0");
        assertEquals("/.well-known/mta-sts.txt", path.get("path").asText());
        assertEquals("Exact", path.get("pathType").asText());
        assertEquals(1, ingress.at("/spec/rules/0/http/paths").size(), "never the API");
        assertEquals("tls-policy-service", path.at("/backend/service/name").asText());
        assertEquals("https", path.at("/backend/service/port/name").asText());
        assertEquals("mta-sts-tls", ingress.at("/spec/tls/0/secretName").asText());
        JsonNode np = one(objects, "NetworkPolicy", "tls-policy-service");
        assertTrue(np.at("/spec/ingress").toString().contains("ingress-nginx"), np.toString());
        assertTrue(objects.stream().noneMatch(o -> o.get("kind").asText().equals("Ingress")
                && !o.at("/metadata/name").asText().equals("tls-policy-service-mta-sts")));
        assertTrue(render(t -> t).stream().noneMatch(o -> o.get("kind").asText().equals("Ingress")), "off by default");
        Exception e = assertThrows(Exception.class, () -> render(t -> mtaSts(t).set("mtaSts.ingress.hosts[0]", "www.example.com")));
        assertTrue(e.getMessage().contains("schema"), e.getMessage());
    }

    private static TemplateCommand mtaSts(TemplateCommand t) {
        return t.set("mtaSts.ingress.enabled", true).set("mtaSts.ingress.hosts[0]", "mta-sts.example.com")
                .set("mtaSts.ingress.tlsSecretName", "mta-sts-tls")
                .set("mtaSts.ingress.controllerFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name", "ingress-nginx");
    }

    @Test
    void extraEnvironmentReachesTheContainer() throws Exception {
        List<JsonNode> objects = render(t -> t.set("services.listener.extraEnv[0].name", "JAVA_TOOL_OPTIONS")
                .set("services.listener.extraEnv[0].value", "-Xmx300m"));
        JsonNode c = one(objects, "Deployment", "tls-listener-service").at("/spec/template/spec/containers/0");
        assertEquals("-Xmx300m", env(c, "JAVA_TOOL_OPTIONS").get("value").asText());
        JsonNode other = one(objects, "Deployment", "tls-delivery-service").at("/spec/template/spec/containers/0");
        assertThrows(Throwable.class, () -> env(other, "JAVA_TOOL_OPTIONS"), "only the listener's");
        Exception e = assertThrows(Exception.class, () -> render(t -> t.set("services.listener.extraEnv[0].value", "x")));
        assertTrue(e.getMessage().contains("schema"), "an entry without a name: " + e.getMessage());
    }

    @Test
    void theSchemaRefusesBadValues() {
        Map<String, UnaryOperator<TemplateCommand>> bad = Map.of(
                "replicas of the wrong type", t -> t.set("services.listener.replicas", "three"),
                "replicas below 1", t -> t.set("services.delivery.replicas", 0),
                "a missing secret: the master key", t -> ownSecrets(t).set("secrets.masterKey", ""),
                "a missing secret: the database password", t -> t.set("database.existingSecret", ""),
                "a short enrolment token", t -> ownSecrets(t).set("secrets.enrollmentTokens.listener-service", "short"),
                "an unknown role", t -> ownSecrets(t).set("secrets.apiTokens.ops.role", "root"),
                "a bounce-tagging key without its number", t -> ownSecrets(t).set("secrets.bounceVerificationKeys", "b3V0Ym91bmQgdGFnZ2luZyBrZXkgMzI="),
                "an unknown service", t -> t.set("services.mailer.name", "mailer"));
        bad.forEach((what, values) -> {
            Exception e = assertThrows(Exception.class, () -> render(values), what);
            assertTrue(e.getMessage() != null && e.getMessage().contains("schema"), what + ": " + e.getMessage());
        });
    }

    @Test
    void everyRenderedObjectIsValidAgainstTheKubernetesSchemas() throws Exception {
        Path validate = ROOT.resolve("helm/validate");
        if (!java.nio.file.Files.isDirectory(validate.resolve("node_modules"))) {
            io.tlsgate.testkit.Commands.Result npm = io.tlsgate.testkit.Commands.run(java.time.Duration.ofMinutes(5), Map.of(),
                    null, "npm", "ci", "--no-audit", "--no-fund", "--prefix", validate.toString());
            assertEquals(0, npm.exit(), npm.output());
        }
        Path dir = java.nio.file.Files.createTempDirectory("tlsgate-chart-");
        List<String> command = new ArrayList<>(List.of("node", validate.resolve("validate.mjs").toString()));
        Map<String, UnaryOperator<TemplateCommand>> variants = Map.of(
                "defaults", t -> t,
                "production", t -> t.withValuesFile(ROOT.resolve("deploy/values-production.yaml")),
                "chart-secrets", HelmChartTest::ownSecrets,
                "mta-sts-ingress", HelmChartTest::mtaSts,
                "cert-manager", t -> t.set("internalTls.source", "cert-manager").set("serviceMonitor.enabled", true)
                        .set("services.listener.autoscaling.enabled", true));
        int objects = 0;
        for (Map.Entry<String, UnaryOperator<TemplateCommand>> v : variants.entrySet()) {
            Path file = dir.resolve(v.getKey() + ".yaml");
            java.nio.file.Files.writeString(file, v.getValue().apply(new Helm(CHART).template().withName("tls")).call());
            objects += render(v.getValue()).size();
            command.add(file.toString());
        }
        io.tlsgate.testkit.Commands.Result r = io.tlsgate.testkit.Commands.run(java.time.Duration.ofMinutes(2), Map.of(), null,
                command.toArray(new String[0]));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains(objects + " objects valid"), r.output());
        try (var files = java.nio.file.Files.list(dir)) {
            files.forEach(f -> f.toFile().delete());
        }
        dir.toFile().delete();
    }

    private static TemplateCommand ownSecrets(TemplateCommand t) {
        t.set("secrets.existingSecret", "")
                .set("secrets.masterKey", "q0Y2mJ0m3v1Xo6v9xw6H3Zb2a9e4y8Yt0u7kLq1nR2s=")
                .set("secrets.bounceVerificationKeys", "1:b3V0Ym91bmQgdGFnZ2luZyBrZXkgMzI=")
                .set("secrets.apiTokens.ops.token", "ops-token-0123456789")
                .set("secrets.apiTokens.ops.role", "operator");
        for (String s : SERVICES) {
            t.set("secrets.enrollmentTokens." + s, s + "-0123456789abcdef0123456789abcdef");
        }
        return t;
    }

    private static List<JsonNode> render(UnaryOperator<TemplateCommand> values) throws Exception {
        String yaml = values.apply(new Helm(CHART).template().withName("tls")).call();
        List<JsonNode> out = new ArrayList<>();
        try (var docs = YAML.readerFor(JsonNode.class).readValues(yaml)) {
            while (docs.hasNext()) {
                JsonNode n = (JsonNode) docs.next();
                if (n != null && n.has("kind")) {
                    out.add(n);
                }
            }
        }
        return out;
    }

    private static JsonNode one(List<JsonNode> objects, String kind, String name) {
        List<JsonNode> found = objects.stream()
                .filter(o -> o.get("kind").asText().equals(kind) && o.at("/metadata/name").asText().equals(name)).toList();
        assertEquals(1, found.size(), kind + " " + name);
        return found.get(0);
    }

    private static JsonNode env(JsonNode container, String name) {
        for (JsonNode e : container.get("env")) {
            if (e.get("name").asText().equals(name)) {
                return e;
            }
        }
        throw new AssertionError("no env " + name + " in " + container);
    }

    private static JsonNode volume(JsonNode pod, String name) {
        for (JsonNode v : pod.get("volumes")) {
            if (v.get("name").asText().equals(name)) {
                return v;
            }
        }
        throw new AssertionError("no volume " + name);
    }

    private static Set<String> names(JsonNode list) {
        Set<String> out = new HashSet<>();
        list.forEach(n -> out.add(n.get("name").asText()));
        return out;
    }

    /** The services whose pods the NetworkPolicy of {@code service} lets reach {@code port}. */
    private static Set<String> grpcCallers(List<JsonNode> objects, String service, int port) {
        JsonNode np = one(objects, "NetworkPolicy", "tls-" + service);
        Set<String> out = new HashSet<>();
        for (JsonNode rule : np.at("/spec/ingress")) {
            if (rule.at("/ports/0/port").asInt() == port) {
                rule.get("from").forEach(f -> out.add(f.at("/podSelector/matchLabels/app.kubernetes.io~1name").asText()));
            }
        }
        return out;
    }
}
