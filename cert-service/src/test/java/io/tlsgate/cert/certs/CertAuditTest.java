package io.tlsgate.cert.certs;

import static io.tlsgate.cert.certs.CertificateApiTest.as;
import static io.tlsgate.cert.certs.CertificateApiTest.generate;
import static io.tlsgate.cert.certs.CertificateApiTest.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.core.events.Topics;
import io.tlsgate.testkit.KafkaRecords;
import io.tlsgate.testkit.TestPki;
import io.tlsgate.testkit.TestTokens;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * cert-service's changes are audited like policy-service's: generate, assign, unassign, export,
 * delete and trusted CAs each leave an entry (who, what, before and after, never a key) in
 * {@code GET /api/v1/audit} and an {@code io.tlsgate.audit.change} event on Kafka.
 */
@QuarkusTest
class CertAuditTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void everyChangeAndEveryKeyExportIsAudited() throws Exception {
        String name = unique();
        String slot = "listener:" + unique();
        generate("{\"name\":\"" + name + "\",\"commonName\":\"mx.audit.test\",\"keyType\":\"EC_P256\"}").statusCode(201);
        as(TestTokens.ADMIN).contentType("application/json").body("{\"certificate\":\"" + name + "\"}")
                .when().put("/api/v1/assignments/" + slot).then().statusCode(200);
        as(TestTokens.ADMIN).when().delete("/api/v1/assignments/" + slot).then().statusCode(200);
        as(TestTokens.ADMIN).contentType("application/json").body("{\"password\":\"audit-test-pw\"}")
                .when().post("/api/v1/certificates/" + name + "/export").then().statusCode(200);
        as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(204);
        String ca = as(TestTokens.ADMIN).contentType("application/x-pem-file")
                .body(TestPki.selfSignedCa("Audit Test CA", Duration.ofDays(30)).certificatePem().getBytes(StandardCharsets.US_ASCII))
                .when().post("/api/v1/trusted-cas").then().statusCode(201).extract().path("id");
        as(TestTokens.ADMIN).when().delete("/api/v1/trusted-cas/" + ca).then().statusCode(204);

        as(TestTokens.READER).when().get("/api/v1/audit").then().statusCode(403);
        JsonNode entries = JSON.readTree(as(TestTokens.OPERATOR).when().get("/api/v1/audit?limit=50").then().statusCode(200)
                .extract().asString());
        List<String> seen = new ArrayList<>();
        for (JsonNode e : entries) {
            String entity = e.get("entity").asText();
            if (entity.equals("certificate:" + name) || entity.equals("assignment:" + slot) || entity.equals("trusted-ca:" + ca)) {
                seen.add(0, e.get("action").asText() + " " + entity.substring(0, entity.indexOf(':')));
                assertEquals("test-admin", e.get("principal").asText());
                assertFalse(e.toString().contains("PRIVATE KEY"), "no key in an audit entry: " + e);
            }
        }
        assertEquals(List.of("create certificate", "assign assignment", "unassign assignment", "export certificate",
                "delete certificate", "create trusted-ca", "delete trusted-ca"), seen);
        JsonNode assign = find(entries, "assign", "assignment:" + slot);
        assertEquals(name, assign.get("after").get("certificate").asText());
        JsonNode deleted = find(entries, "delete", "certificate:" + name);
        assertEquals("CN=mx.audit.test", deleted.get("before").get("subject").asText().split(",")[0]);
        assertTrue(find(entries, "export", "certificate:" + name).get("after").isNull());

        ConsumerRecord<String, byte[]> event = KafkaRecords.await(Topics.AUDIT, r -> ("certificate:" + name).equals(r.key()),
                Duration.ofSeconds(30));
        assertEquals("io.tlsgate.audit.change", KafkaRecords.header(event, CloudEvent.HEADER_TYPE));
        assertEquals("/tlsgate/cert-service", KafkaRecords.header(event, CloudEvent.HEADER_SOURCE));
    }

    private static JsonNode find(JsonNode entries, String action, String entity) {
        for (JsonNode e : entries) {
            if (e.get("action").asText().equals(action) && e.get("entity").asText().equals(entity)) {
                return e;
            }
        }
        throw new AssertionError("no " + action + " of " + entity + " in " + entries);
    }
}
