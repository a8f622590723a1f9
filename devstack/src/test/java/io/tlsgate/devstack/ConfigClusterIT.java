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
 * Operating the configuration against the running cluster: the warnings a change that turns
 * outbound TLS on carries (policy-service asks cert-service what the outbound slot serves).
 */
@ExtendWith(DeliveryCluster.Shared.class)
class ConfigClusterIT {

    private static final AtomicInteger SEQ = new AtomicInteger();

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
