package io.tlsgate.policy.config;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ExtractableResponse;
import io.restassured.response.Response;
import io.tlsgate.testkit.TestTokens;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /api/v1/config/export} and {@code POST /api/v1/config/import}: the export imports
 * unchanged; validateOnly changes nothing; a document with problems in several sections is
 * refused as a whole with every problem named by its item; a good one creates, replaces and
 * deletes in one go, audited with the comment.
 */
@QuarkusTest
class ConfigImportExportTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static ObjectNode export() throws Exception {
        return (ObjectNode) JSON.readTree(given().header("Authorization", TestTokens.bearer(TestTokens.READER))
                .when().get("/api/v1/config/export").then().statusCode(200).extract().asString());
    }

    private static ExtractableResponse<Response> importDoc(JsonNode doc, boolean validateOnly, String token) {
        return given().header("Authorization", TestTokens.bearer(token)).header("X-Change-Comment", "config import test")
                .contentType("application/json").body(doc.toString())
                .when().post("/api/v1/config/import" + (validateOnly ? "?validateOnly=true" : "")).then().extract();
    }

    private static JsonNode item(JsonNode doc, String section, String field, String id) {
        for (JsonNode n : doc.get(section)) {
            if (n.get(field).asText().equals(id)) {
                return n;
            }
        }
        return null;
    }

    private static void remove(ObjectNode doc, String section, String field, String id) {
        ArrayNode a = (ArrayNode) doc.get(section);
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i).get(field).asText().equals(id)) {
                a.remove(i);
                return;
            }
        }
        throw new AssertionError(id + " not in " + section);
    }

    private static void post(String path, String body) {
        given().header("Authorization", TestTokens.bearer(TestTokens.ADMIN)).contentType("application/json").body(body)
                .when().post(path).then().statusCode(201);
    }

    @Test
    void theExportImportsUnchangedAndCoversEverySection() throws Exception {
        ObjectNode doc = export();
        assertEquals("tlsgate-policy-config/1", doc.get("format").asText());
        for (String s : List.of("bounceProfiles", "mailFlowPolicies", "senderGroups", "listeners", "smtpRoutes", "mtaStsPolicies",
                "hostAccessTables", "destinations", "recipientAccess", "outboundSettings")) {
            assertTrue(doc.has(s), s);
        }
        assertTrue(doc.get("hostAccessTables").get("inbound").isArray(), doc.get("hostAccessTables").toString());
        var r = importDoc(doc, false, TestTokens.ADMIN);
        assertEquals(200, r.statusCode(), r.asString());
        JsonNode answer = JSON.readTree(r.asString());
        answer.get("sections").fields().forEachRemaining(e -> {
            assertEquals(0, e.getValue().get("created").asInt() + e.getValue().get("updated").asInt()
                    + e.getValue().get("deleted").asInt(), e.getKey() + ": " + e.getValue());
        });
        ObjectNode again = export();
        assertEquals(doc, again);
        // An operator may read it but not import it (the outbound settings need admin).
        assertEquals(403, importDoc(doc, false, TestTokens.OPERATOR).statusCode());
    }

    @Test
    void anImportIsAllOrNothingAndValidateOnlyChangesNothing() throws Exception {
        String u = UUID.randomUUID().toString().substring(0, 6);
        post("/api/v1/bounce-profiles", "{\"name\":\"old" + u + "\",\"maxRetries\":3,\"maxTimeInQueueSeconds\":3600,"
                + "\"initialRetrySeconds\":60,\"maxRetrySeconds\":600,\"sendHardBounces\":true,\"sendDelayWarnings\":false}");
        post("/api/v1/smtp-routes", "{\"domain\":\"gone" + u + ".internal\",\"hops\":[\"mail1.internal\"]}");
        ObjectNode before = export();

        ObjectNode doc = before.deepCopy();
        ((ArrayNode) doc.get("bounceProfiles")).addObject().put("name", "new" + u).put("maxRetries", 7)
                .put("maxTimeInQueueSeconds", 7200).put("initialRetrySeconds", 60).put("maxRetrySeconds", 900)
                .put("sendHardBounces", true).put("sendDelayWarnings", false);
        ((ObjectNode) item(doc, "bounceProfiles", "name", "old" + u)).put("maxRetries", 9);
        remove(doc, "smtpRoutes", "domain", "gone" + u + ".internal");
        ((ArrayNode) doc.get("destinations")).addObject().put("key", "new" + u + ".example").put("tls", "REQUIRED")
                .put("bounceProfile", "new" + u);
        ((ArrayNode) ((ObjectNode) doc.get("recipientAccess")).get("domains")).add("new" + u + ".example");

        // Validate only: the answer says what would happen, nothing happens.
        var checked = importDoc(doc, true, TestTokens.ADMIN);
        assertEquals(200, checked.statusCode(), checked.asString());
        JsonNode would = JSON.readTree(checked.asString());
        assertFalse(would.get("changed").asBoolean());
        assertEquals(1, would.at("/sections/bounceProfiles/created").asInt(), would.toString());
        assertEquals(1, would.at("/sections/bounceProfiles/updated").asInt(), would.toString());
        assertEquals(1, would.at("/sections/smtpRoutes/deleted").asInt(), would.toString());
        assertEquals(1, would.at("/sections/destinations/created").asInt(), would.toString());
        assertEquals(before, export(), "validateOnly changed something");

        // Problems in several sections: every one named, nothing changed (not even the good parts).
        ObjectNode bad = doc.deepCopy();
        ((ObjectNode) item(bad, "bounceProfiles", "name", "new" + u)).put("maxRetries", -1);
        ((ArrayNode) bad.get("senderGroups")).addObject().put("name", "BAD" + u).put("policy", "NO_SUCH_POLICY")
                .putArray("senders").add("300.1.1.1/40");
        ((ArrayNode) bad.get("destinations")).addObject().put("key", "bad" + u + ".example").put("maxConcurrentConnections", 0);
        bad.put("surprise", true);
        var refusedShape = importDoc(bad, false, TestTokens.ADMIN);
        assertEquals(400, refusedShape.statusCode());
        assertTrue(refusedShape.asString().contains("\"surprise\""), refusedShape.asString());
        bad.remove("surprise");
        var refused = importDoc(bad, false, TestTokens.ADMIN);
        assertEquals(400, refused.statusCode(), refused.asString());
        assertEquals("application/problem+json", refused.contentType().split(";")[0]);
        List<String> fields = new ArrayList<>();
        JSON.readTree(refused.asString()).get("errors").forEach(e -> fields.add(e.get("field").asText()));
        assertTrue(fields.contains("bounceProfiles[new" + u + "].maxRetries"), fields.toString());
        assertTrue(fields.stream().anyMatch(f -> f.startsWith("senderGroups[BAD" + u + "]")), fields.toString());
        assertTrue(fields.contains("destinations[bad" + u + ".example].maxConcurrentConnections"), fields.toString());
        assertEquals(before, export(), "a refused import changed something");

        // The good document: all of it at once.
        var done = importDoc(doc, false, TestTokens.ADMIN);
        assertEquals(200, done.statusCode(), done.asString());
        assertTrue(JSON.readTree(done.asString()).get("changed").asBoolean());
        ObjectNode after = export();
        assertEquals(9, item(after, "bounceProfiles", "name", "old" + u).get("maxRetries").asInt());
        assertEquals(7, item(after, "bounceProfiles", "name", "new" + u).get("maxRetries").asInt());
        assertEquals(null, item(after, "smtpRoutes", "domain", "gone" + u + ".internal"));
        assertEquals("REQUIRED", item(after, "destinations", "key", "new" + u + ".example").get("tls").asText());
        JsonNode again = JSON.readTree(importDoc(after, true, TestTokens.ADMIN).asString());
        again.get("sections").fields().forEachRemaining(e -> assertEquals(0, e.getValue().get("created").asInt()
                + e.getValue().get("updated").asInt() + e.getValue().get("deleted").asInt(), "import of the export: " + e));
        String audit = given().header("Authorization", TestTokens.bearer(TestTokens.OPERATOR)).when().get("/api/v1/audit?limit=50")
                .then().statusCode(200).extract().asString();
        assertTrue(audit.contains("bounce-profile:new" + u) || audit.contains("new" + u), audit);
        assertTrue(audit.contains("config import test"), audit);

        // Put it back (this JVM's other tests share the configuration).
        ObjectNode back = export();
        remove(back, "destinations", "key", "new" + u + ".example");
        remove(back, "bounceProfiles", "name", "new" + u);
        ArrayNode domains = (ArrayNode) ((ObjectNode) back.get("recipientAccess")).get("domains");
        for (int i = 0; i < domains.size(); i++) {
            if (domains.get(i).asText().equals("new" + u + ".example")) {
                domains.remove(i);
            }
        }
        assertEquals(200, importDoc(back, false, TestTokens.ADMIN).statusCode());
    }
}
