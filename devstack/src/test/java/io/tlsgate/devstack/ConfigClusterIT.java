package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.api;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Operating the configuration against the running cluster: what GET returns, PUT accepts
 * unchanged, for every resource (one walk over all of them); the whole configuration exported
 * and imported (policy-service, and cert-service's assignments and trusted CAs by reference),
 * all or nothing; the warnings a change that turns outbound TLS on carries (policy-service asks
 * cert-service what the outbound slot serves).
 */
@ExtendWith(DeliveryCluster.Shared.class)
class ConfigClusterIT {

    private static final AtomicInteger SEQ = new AtomicInteger();

    /** A collection: the service's port, where it is, which field of an item names it in the path. */
    private record Collection(int port, String path, String idField) {}

    private static final List<Collection> COLLECTIONS = List.of(
            new Collection(8081, "/api/v1/destinations", "key"),
            new Collection(8081, "/api/v1/bounce-profiles", "name"),
            new Collection(8081, "/api/v1/mail-flow-policies", "name"),
            new Collection(8081, "/api/v1/sender-groups", "name"),
            new Collection(8081, "/api/v1/listeners", "name"),
            new Collection(8081, "/api/v1/smtp-routes", "domain"),
            new Collection(8081, "/api/v1/mta-sts/policies", "domain"),
            new Collection(8082, "/api/v1/assignments", "slot"));

    /** Resources that are one thing, not a collection. */
    private static final List<Collection> SINGLES = List.of(new Collection(8081, "/api/v1/settings/outbound", null),
            new Collection(8081, "/api/v1/rat", null));

    /** Writes back what GET returned and checks that GET returns the same again (and so does PUT, warnings aside). */
    private static void roundTrip(int port, String path) throws Exception {
        String before = api().ok(api().send("GET", port, path, null, null));
        JsonNode answer = ClusterApi.JSON.readTree(api().ok("PUT", port, path, before));
        if (answer instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
            o.remove("warnings");
        }
        assertEquals(ClusterApi.JSON.readTree(before), answer, "the answer to PUT " + path);
        assertEquals(ClusterApi.JSON.readTree(before), api().get(port, path), "GET " + path + " after PUT");
    }

    /**
     * Every collection of policy- and cert-service, every item in it (one of each kind made
     * first, with its optional parts), and every single resource: GET, PUT of that, GET again.
     */
    @Test
    void whatGetReturnsPutAcceptsUnchangedForEveryResource() throws Exception {
        String u = "rt" + SEQ.incrementAndGet() + "-" + System.nanoTime() % 100000;
        api().ok("POST", 8081, "/api/v1/bounce-profiles", "{\"name\":\"" + u + "\",\"maxRetries\":5,\"maxTimeInQueueSeconds\":3600,"
                + "\"initialRetrySeconds\":60,\"maxRetrySeconds\":600,\"sendHardBounces\":true,\"sendDelayWarnings\":true,"
                + "\"delayWarningIntervalSeconds\":1800,\"maxDelayWarnings\":2}");
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + u + ".config.test\",\"tls\":\"PREFERRED\","
                + "\"recipientLimit\":{\"recipients\":10,\"perMinutes\":5},\"bounceProfile\":\"" + u + "\",\"bounceVerification\":true}");
        api().ok("POST", 8081, "/api/v1/mail-flow-policies", "{\"name\":\"RT" + u + "\",\"behaviour\":\"ACCEPT\",\"tls\":\"PREFERRED\","
                + "\"tlsMandatorySenders\":[\"@bank.example\"],\"maxRecipientsPerMessage\":50}");
        api().ok("POST", 8081, "/api/v1/sender-groups", "{\"name\":\"RT" + u + "\",\"policy\":\"RT" + u + "\","
                + "\"senders\":[\"10.20.0.0/16\",\"2001:db8:20::/48\",\".partner.example\"]}");
        api().ok("POST", 8081, "/api/v1/smtp-routes", "{\"domain\":\"" + u + ".internal\",\"hops\":[\"mail1.internal\",\"192.0.2.25:2525\"]}");
        api().ok("PUT", 8081, "/api/v1/mta-sts/policies/" + u + ".config.test",
                "{\"mode\":\"enforce\",\"mx\":[\"mx1." + u + ".config.test\"],\"maxAgeSeconds\":86400}");
        List<String> walked = new ArrayList<>();
        try {
            for (Collection c : COLLECTIONS) {
                JsonNode list = api().get(c.port(), c.path());
                assertTrue(list.isArray() && list.size() > 0, c.path() + ": " + list);
                for (JsonNode item : list) {
                    String path = c.path() + "/" + item.get(c.idField()).asText();
                    roundTrip(c.port(), path);
                    walked.add(path);
                    if (c.path().endsWith("/listeners")) {
                        roundTrip(c.port(), path + "/hat");
                    }
                }
            }
            for (Collection single : SINGLES) {
                roundTrip(single.port(), single.path());
            }
            for (String must : List.of("/api/v1/destinations/default", "/api/v1/destinations/." + DeliveryCluster.label("REQUIRED") + ".test",
                    "/api/v1/listeners/inbound", "/api/v1/mta-sts/policies/" + u + ".config.test", "/api/v1/assignments/outbound")) {
                assertTrue(walked.contains(must), must + " in " + walked);
            }
        } finally {
            api().ok("DELETE", 8081, "/api/v1/destinations/" + u + ".config.test", null);
            api().ok("DELETE", 8081, "/api/v1/bounce-profiles/" + u, null);
            api().ok("DELETE", 8081, "/api/v1/sender-groups/RT" + u, null);
            api().ok("DELETE", 8081, "/api/v1/mail-flow-policies/RT" + u, null);
            api().ok("DELETE", 8081, "/api/v1/smtp-routes/" + u + ".internal", null);
            api().ok("DELETE", 8081, "/api/v1/mta-sts/policies/" + u + ".config.test", null);
        }
    }

    private static java.net.http.HttpResponse<String> importDoc(int port, JsonNode doc, boolean validateOnly) throws Exception {
        return api().send("POST", port, "/api/v1/config/import" + (validateOnly ? "?validateOnly=true" : ""), "application/json",
                doc.toString());
    }

    /**
     * The whole configuration out and back in: policy-service's export imports unchanged
     * (validating first), a change in it lands all at once and shows in what delivery-service's
     * policy answers; cert-service's assignments and trusted CAs go by reference, and a
     * reference that does not resolve here refuses the whole import.
     */
    @Test
    void theWholeConfigurationExportsAndImportsAllOrNothing() throws Exception {
        JsonNode policy = api().get(8081, "/api/v1/config/export");
        JsonNode checked = ClusterApi.JSON.readTree(ClusterApi.ok(importDoc(8081, policy, true)));
        assertEquals(false, checked.get("changed").asBoolean(), checked.toString());
        checked.get("sections").fields().forEachRemaining(e -> assertEquals(0, e.getValue().get("created").asInt()
                + e.getValue().get("updated").asInt() + e.getValue().get("deleted").asInt(), e.toString()));
        assertEquals(policy, api().get(8081, "/api/v1/config/export"));

        String key = "imp" + SEQ.incrementAndGet() + "-" + System.nanoTime() % 100000 + ".config.test";
        com.fasterxml.jackson.databind.node.ObjectNode changed = policy.deepCopy();
        ((com.fasterxml.jackson.databind.node.ArrayNode) changed.get("destinations")).addObject().put("key", key)
                .put("tls", "REQUIRED").put("maxConcurrentConnections", 3);
        ClusterApi.ok(importDoc(8081, changed, false));
        JsonNode resolved = api().get(8081, "/api/v1/destinations/resolve?domain=" + key);
        assertEquals(key, resolved.get("matched").asText(), resolved.toString());
        assertEquals("REQUIRED", resolved.at("/values/tls").asText(), resolved.toString());
        ClusterApi.ok(importDoc(8081, policy, false));
        assertEquals(404, api().send("GET", 8081, "/api/v1/destinations/" + key, null, null).statusCode());

        JsonNode cert = api().get(8082, "/api/v1/config/export");
        assertEquals("tlsgate-cert-config/1", cert.get("format").asText());
        String rootFingerprint = DeliveryCluster.root().certificate() == null ? null
                : java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                        .digest(DeliveryCluster.root().certificate().getEncoded()));
        assertTrue(cert.toString().toLowerCase().contains(rootFingerprint), "the cluster's trusted root by fingerprint: " + cert);
        assertTrue(!cert.toString().contains("BEGIN"), "by reference only: " + cert);
        JsonNode same = ClusterApi.JSON.readTree(ClusterApi.ok(importDoc(8082, cert, false)));
        assertEquals(false, same.get("changed").asBoolean(), same.toString());

        com.fasterxml.jackson.databind.node.ObjectNode bad = cert.deepCopy();
        ((com.fasterxml.jackson.databind.node.ArrayNode) bad.get("assignments")).addObject().put("slot", "listener:nowhere")
                .put("certificate", "no-such-certificate");
        ((com.fasterxml.jackson.databind.node.ArrayNode) bad.get("trustedCas")).addObject().put("fingerprintSha256", "00".repeat(32));
        var refused = importDoc(8082, bad, false);
        assertEquals(400, refused.statusCode(), refused.body());
        assertTrue(refused.body().contains("assignments[") && refused.body().contains("no-such-certificate")
                && refused.body().contains("trustedCas["), refused.body());
        assertEquals(cert, api().get(8082, "/api/v1/config/export"), "a refused import changed nothing");
    }

    private static List<String> warnings(JsonNode answer) {
        List<String> out = new ArrayList<>();
        answer.get("warnings").forEach(w -> out.add(w.asText()));
        return out;
    }

    private static JsonNode putEntry(String key, String tls) throws Exception {
        return ClusterApi.JSON.readTree(api().ok("PUT", 8081, "/api/v1/destinations/" + key, "{\"tls\":\"" + tls + "\"}"));
    }

    private static boolean policyLogged(String fragment) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.readString(api().logs().resolve("policy-service.log"), StandardCharsets.UTF_8).contains(fragment)) {
                return true;
            }
            Thread.sleep(200);
        }
        return false;
    }

    /**
     * TLS on with no outbound certificate: the answer warns and policy-service logs it; with a
     * certificate that expires in 10 days it warns about the expiry; with one valid for a year,
     * or with TLS off, no warning. The change is made every time.
     */
    @Test
    void enablingTlsWarnsAboutAMissingOrExpiringOutboundCertificate() throws Exception {
        JsonNode before = api().get(8082, "/api/v1/assignments/outbound");
        String key = "warn" + SEQ.incrementAndGet() + "-" + System.nanoTime() % 100000 + ".config.test";
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + key + "\",\"tls\":\"NONE\"}");
        String soon = "outbound-soon-" + System.nanoTime() % 100000;
        String year = "outbound-year-" + System.nanoTime() % 100000;
        try {
            api().ok("DELETE", 8082, "/api/v1/assignments/outbound", null);
            assertEquals(List.of(), warnings(putEntry(key, "NONE")), "TLS off: nothing to warn about");

            JsonNode none = putEntry(key, "REQUIRED_VERIFY");
            assertEquals("REQUIRED_VERIFY", none.get("tls").asText());
            assertEquals(1, warnings(none).size(), none.toString());
            assertTrue(warnings(none).get(0).startsWith("no outbound certificate is assigned (slot outbound)"), none.toString());
            assertEquals("REQUIRED_VERIFY", api().get(8081, "/api/v1/destinations/" + key).get("tls").asText());
            assertTrue(policyLogged("destination " + key + ": TLS is enabled; no outbound certificate is assigned"));

            api().ok("POST", 8082, "/api/v1/certificates", "{\"name\":\"" + soon + "\",\"commonName\":\"mail.config.test\","
                    + "\"validityDays\":10}");
            api().ok("PUT", 8082, "/api/v1/assignments/outbound", "{\"certificate\":\"" + soon + "\"}");
            JsonNode expiring = putEntry(key, "PREFERRED");
            assertEquals(1, warnings(expiring).size(), expiring.toString());
            assertTrue(warnings(expiring).get(0).matches("the outbound certificate '" + soon
                    + "' \\(slot outbound\\) expires on \\d{4}-\\d\\d-\\d\\d, within 30 days"), expiring.toString());
            assertTrue(policyLogged("destination " + key + ": TLS is enabled; the outbound certificate '" + soon + "'"));

            api().ok("POST", 8082, "/api/v1/certificates", "{\"name\":\"" + year + "\",\"commonName\":\"mail.config.test\","
                    + "\"validityDays\":365}");
            api().ok("PUT", 8082, "/api/v1/assignments/outbound", "{\"certificate\":\"" + year + "\"}");
            assertEquals(List.of(), warnings(putEntry(key, "REQUIRED")));
        } finally {
            if (before.get("assigned").asBoolean() && !before.get("demo").asBoolean()) {
                api().ok("PUT", 8082, "/api/v1/assignments/outbound", "{\"certificate\":\"" + before.get("certificate").asText() + "\"}");
            } else {
                api().ok("DELETE", 8082, "/api/v1/assignments/outbound", null);
            }
            api().ok("DELETE", 8081, "/api/v1/destinations/" + key, null);
            api().send("DELETE", 8082, "/api/v1/certificates/" + soon, null, null);
            api().send("DELETE", 8082, "/api/v1/certificates/" + year, null, null);
        }
    }
}
