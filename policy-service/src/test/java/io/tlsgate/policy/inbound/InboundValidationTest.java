package io.tlsgate.policy.inbound;

import static io.tlsgate.policy.inbound.InboundApiTest.as;
import static io.tlsgate.policy.inbound.InboundApiTest.post;
import static io.tlsgate.policy.inbound.InboundApiTest.put;
import static io.tlsgate.policy.inbound.InboundApiTest.unique;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.tlsgate.testkit.TestTokens;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every inbound field at both edges and one past each, malformed values, unknown fields, wrong
 * types and oversized bodies: 400 problem+json naming the field, and nothing changes (read back).
 */
@QuarkusTest
class InboundValidationTest {

    static ValidatableResponse rejected(ValidatableResponse r, String field) {
        return r.statusCode(400).contentType("application/problem+json").body("errors.field", hasItem(field));
    }

    @ParameterizedTest(name = "listener {0} = {1}: {2}")
    @CsvSource(delimiter = '|', value = {
        "port|1|ok", "port|65535|ok", "port|0|bad", "port|65536|bad", "port|'\"25\"'|bad", "port|25.5|bad",
        "maxConcurrentConnections|1|ok", "maxConcurrentConnections|100000|ok", "maxConcurrentConnections|0|bad",
        "maxConcurrentConnections|100001|bad",
        "maxMessageSizeBytes|1024|ok", "maxMessageSizeBytes|1073741824|ok", "maxMessageSizeBytes|1023|bad",
        "maxMessageSizeBytes|1073741825|bad",
        "bindAddress|'\"::1\"'|ok", "bindAddress|'\"192.0.2.300\"'|bad", "bindAddress|'\"localhost\"'|bad",
        "hostname|'\"bad host\"'|bad", "hostname|null|bad", "name|'\"-x\"'|bad", "name|'\"ALL x\"'|bad",
        "certificateSlot|'\"outbound\"'|bad", "colour|'\"blue\"'|bad"})
    void listenerFields(String field, String value, String verdict) {
        String name = unique("l");
        int port = InboundApiTest.freePort();
        String body = "{\"name\":\"" + name + "\",\"port\":" + port + ",\"hostname\":\"mx.example\",\"maxConnectionsPerClient\":1";
        body = field.equals("name") ? body.replace("\"" + name + "\"", value)
                : field.equals("port") ? body.replace(":" + port + ",", ":" + value + ",")
                : field.equals("hostname") ? body.replace("\"mx.example\"", value)
                : body + ",\"" + field + "\":" + value;
        ValidatableResponse r = post("/api/v1/listeners", body + "}");
        if (verdict.equals("ok")) {
            r.statusCode(201);
            as(TestTokens.OPERATOR).when().delete("/api/v1/listeners/" + name).then().statusCode(204);
        } else {
            rejected(r, field);
            as(TestTokens.READER).when().get("/api/v1/listeners/" + name).then().statusCode(404);
        }
    }

    @Test
    void listenerRequiredFieldsAndCrossFieldRules() {
        rejected(post("/api/v1/listeners", "{\"name\":\"" + unique("l") + "\"}"), "port").body("errors.field",
                hasItem("hostname"));
        rejected(post("/api/v1/listeners", "{\"port\":2525,\"hostname\":\"x.example\"}"), "name");
        rejected(post("/api/v1/listeners", "{\"name\":\"" + unique("l") + "\",\"port\":2600,\"hostname\":\"x.example\","
                + "\"maxConcurrentConnections\":5,\"maxConnectionsPerClient\":6}"), "maxConnectionsPerClient");
        rejected(post("/api/v1/listeners", "[1,2]"), "body");
        rejected(post("/api/v1/listeners", "{\"name\":"), "body");
        String big = "{\"name\":\"" + "x".repeat(70_000) + "\"}";
        rejected(post("/api/v1/listeners", big), "body");
        // The default listener is untouched by a bad replace.
        rejected(put("/api/v1/listeners/inbound", "{\"port\":0,\"hostname\":\"x.example\"}"), "port");
        rejected(put("/api/v1/listeners/inbound", "{\"name\":\"other\",\"port\":2525,\"hostname\":\"x.example\"}"), "name");
        as(TestTokens.READER).when().get("/api/v1/listeners/inbound").then().statusCode(200).body("port", equalTo(2525));
    }

    @ParameterizedTest(name = "policy {0} = {1}: {2}")
    @CsvSource(delimiter = '|', value = {
        "maxRecipientsPerMessage|1|ok", "maxRecipientsPerMessage|100000|ok", "maxRecipientsPerMessage|0|bad",
        "maxRecipientsPerMessage|100001|bad", "maxMessagesPerConnection|1|ok", "maxMessagesPerConnection|10000|ok",
        "maxMessagesPerConnection|0|bad", "maxMessagesPerConnection|10001|bad", "maxMessagesPerConnection|true|bad",
        "behaviour|'\"QUARANTINE\"'|bad", "behaviour|'\"accept\"'|bad", "tls|'\"MANDATORY\"'|bad",
        "tlsMandatorySenders|'[\"@example.com\",\"user@\",\"a@b.example\",\"@.example.org\",\"@[192.0.2.1]\"]'|ok",
        "tlsMandatorySenders|'[\"@example.com\",\"nobody\"]'|bad:tlsMandatorySenders[1]",
        "tlsMandatorySenders|'[\"@example.com\",7]'|bad:tlsMandatorySenders[1]",
        "tlsMandatorySenders|'\"@example.com\"'|bad", "unknown|1|bad"})
    void policyFields(String field, String value, String verdict) {
        String name = unique("P");
        String body = "{\"name\":\"" + name + "\",\"behaviour\":\"ACCEPT\",\"tls\":\"PREFERRED\"";
        body = body.contains("\"" + field + "\"") ? body.replaceAll("\"" + field + "\":\"[A-Z]+\"", "\"" + field + "\":" + value)
                : body + ",\"" + field + "\":" + value;
        ValidatableResponse r = post("/api/v1/mail-flow-policies", body + "}");
        if (verdict.equals("ok")) {
            r.statusCode(201);
            as(TestTokens.OPERATOR).when().delete("/api/v1/mail-flow-policies/" + name).then().statusCode(204);
        } else {
            rejected(r, verdict.startsWith("bad:") ? verdict.substring(4) : field);
            as(TestTokens.READER).when().get("/api/v1/mail-flow-policies/" + name).then().statusCode(404);
        }
    }

    @Test
    void mandatorySendersOnlyWithPreferredSettings() {
        String name = unique("P");
        rejected(post("/api/v1/mail-flow-policies", "{\"name\":\"" + name + "\",\"behaviour\":\"ACCEPT\",\"tls\":\"REQUIRED\","
                + "\"tlsMandatorySenders\":[\"@example.com\"]}"), "tlsMandatorySenders");
        rejected(post("/api/v1/mail-flow-policies", "{\"name\":\"" + name + "\",\"behaviour\":\"ACCEPT\",\"tls\":\"OFF\","
                + "\"tlsMandatorySenders\":[\"@example.com\"]}"), "tlsMandatorySenders");
        post("/api/v1/mail-flow-policies", "{\"name\":\"" + name + "\",\"behaviour\":\"ACCEPT\",\"tls\":\"PREFERRED_VERIFY\","
                + "\"tlsMandatorySenders\":[\"@example.com\"]}").statusCode(201);
        rejected(put("/api/v1/mail-flow-policies/" + name, "{\"behaviour\":\"ACCEPT\",\"tls\":\"REQUIRED_VERIFY\","
                + "\"tlsMandatorySenders\":[\"@example.com\"]}"), "tlsMandatorySenders");
        as(TestTokens.READER).when().get("/api/v1/mail-flow-policies/" + name).then().body("tls", equalTo("PREFERRED_VERIFY"));
        as(TestTokens.OPERATOR).when().delete("/api/v1/mail-flow-policies/" + name).then().statusCode(204);
    }

    @Test
    void senderGroupsNameTheBadEntry() {
        String name = unique("G");
        rejected(post("/api/v1/sender-groups", "{\"name\":\"" + name + "\",\"policy\":\"ACCEPTED\","
                + "\"senders\":[\"10.0.0.0/8\",\"10.0.0.1/8\",\"300.1.1.1\",\"ok.example\",\"bad host\"]}"), "senders[1]")
                .body("errors.field", hasItem("senders[2]")).body("errors.field", hasItem("senders[4]"))
                .body("errors.find { it.field == 'senders[1]' }.message", containsString("host bits"));
        rejected(post("/api/v1/sender-groups", "{\"name\":\"" + name + "\",\"policy\":\"NOSUCH\",\"senders\":[]}"), "policy");
        rejected(post("/api/v1/sender-groups", "{\"name\":\"" + name + "\",\"senders\":[]}"), "policy");
        rejected(post("/api/v1/sender-groups", "{\"name\":\"" + name + "\",\"policy\":\"ACCEPTED\",\"senders\":\"ALL\"}"),
                "senders");
        as(TestTokens.READER).when().get("/api/v1/sender-groups/" + name).then().statusCode(404);
        rejected(put("/api/v1/sender-groups/ALL", "{\"policy\":\"ACCEPTED\",\"senders\":[\"10.0.0.0/8\"]}"), "senders");
        as(TestTokens.READER).when().get("/api/v1/sender-groups/ALL").then().body("senders", org.hamcrest.Matchers.contains("ALL"))
                .body("catchAll", equalTo(true));
    }

    @Test
    void hatEntriesAreNamed() {
        String listener = unique("l");
        post("/api/v1/listeners", "{\"name\":\"" + listener + "\",\"port\":" + InboundApiTest.freePort()
                + ",\"hostname\":\"x.example\"}").statusCode(201);
        put("/api/v1/listeners/" + listener + "/hat", "[\"BLOCKLIST\"]").statusCode(200);
        rejected(put("/api/v1/listeners/" + listener + "/hat", "{\"hostAccessTable\":[\"RELAYLIST\",\"NOSUCH\",\"RELAYLIST\","
                + "\"ALL\",\"BLOCKLIST\"]}"), "hostAccessTable[1]")
                .body("errors.field", hasItem("hostAccessTable[2]")).body("errors.field", hasItem("hostAccessTable[3]"));
        rejected(put("/api/v1/listeners/" + listener + "/hat", "{\"groups\":[]}"), "groups");
        rejected(put("/api/v1/listeners/" + listener + "/hat", "{\"hostAccessTable\":[1]}"), "hostAccessTable[0]");
        as(TestTokens.READER).when().get("/api/v1/listeners/" + listener + "/hat").then()
                .body("hostAccessTable", org.hamcrest.Matchers.contains("BLOCKLIST", "ALL"));
        put("/api/v1/listeners/" + listener + "/hat", "{\"hostAccessTable\":[\"RELAYLIST\",\"ALL\"]}").statusCode(200)
                .body("hostAccessTable", org.hamcrest.Matchers.contains("RELAYLIST", "ALL"));
        put("/api/v1/listeners/nosuch/hat", "[]").statusCode(404);
        as(TestTokens.OPERATOR).when().delete("/api/v1/listeners/" + listener).then().statusCode(204);
    }

    @Test
    void ratAndRouteEntriesAreNamed() {
        java.util.List<String> before = as(TestTokens.READER).when().get("/api/v1/rat").then().extract().jsonPath()
                .getList("domains");
        rejected(put("/api/v1/rat", "{\"domains\":[\"ok.example\",\"192.0.2.1\",\"ALL\",\"bad domain\"]}"), "domains[1]")
                .body("errors.field", hasItem("domains[2]")).body("errors.field", hasItem("domains[3]"));
        rejected(post("/api/v1/rat", "{\"domain\":\"[192.0.2.1]\"}"), "domain");
        rejected(post("/api/v1/rat", "{\"domain\":\"ALL\"}"), "domain");
        rejected(post("/api/v1/rat", "{\"domain\":\"x.example\",\"action\":\"ACCEPT\"}"), "action");
        assertEquals(before, as(TestTokens.READER).when().get("/api/v1/rat").then().extract().jsonPath().getList("domains"));

        String d = unique("r") + ".example";
        rejected(post("/api/v1/smtp-routes", "{\"domain\":\"" + d + "\",\"hops\":[\"a.internal\",\"b.internal:0\"]}"), "hops[1]");
        rejected(post("/api/v1/smtp-routes", "{\"domain\":\"" + d + "\",\"hops\":[\"USEDNS\",\"a.internal\"]}"), "hops[0]");
        rejected(post("/api/v1/smtp-routes", "{\"domain\":\"" + d + "\",\"hops\":[]}"), "hops");
        rejected(post("/api/v1/smtp-routes", "{\"domain\":\"" + d + "\"}"), "hops");
        rejected(post("/api/v1/smtp-routes", "{\"domain\":\"10.0.0.0/8\",\"hops\":[\"a.internal\"]}"), "domain");
        rejected(post("/api/v1/smtp-routes", "{\"hops\":[\"a.internal\"]}"), "domain");
        rejected(post("/api/v1/smtp-routes", "{\"domain\":\"" + d + "\",\"hops\":[\"2001:db8::1\"]}"), "hops[0]");
        as(TestTokens.READER).when().get("/api/v1/smtp-routes/" + d).then().statusCode(404);
        post("/api/v1/smtp-routes", "{\"domain\":\"" + d + "\",\"hops\":[\"a.internal:65535\"]}").statusCode(201);
        rejected(put("/api/v1/smtp-routes/" + d, "{\"domain\":\"other.example\",\"hops\":[\"a.internal\"]}"), "domain");
        rejected(put("/api/v1/smtp-routes/" + d, "{\"hops\":[\"a.internal:65536\"]}"), "hops[0]");
        as(TestTokens.READER).when().get("/api/v1/smtp-routes/" + d).then().body("hops[0]", equalTo("a.internal:65535"));
        as(TestTokens.OPERATOR).when().delete("/api/v1/smtp-routes/" + d).then().statusCode(204);
    }
}
