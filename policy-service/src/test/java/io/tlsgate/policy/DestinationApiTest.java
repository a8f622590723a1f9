package io.tlsgate.policy;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.restassured.response.ValidatableResponse;
import io.restassured.specification.RequestSpecification;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.testkit.TestTokens;
import io.tlsgate.testkit.TlsgateTestResources;
import java.sql.Connection;
import java.sql.Statement;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** REST destination controls: CRUD, validation (nothing changes on a bad request), audit, resolve. */
@QuarkusTest
class DestinationApiTest {

    static RequestSpecification as(String token) {
        return given().header("Authorization", TestTokens.bearer(token));
    }

    static String unique() {
        return "t" + UUID.randomUUID().toString().substring(0, 8) + ".example";
    }

    /** What GET returns, PUT accepts unchanged, for the default entry and any other; a wrong kind is refused. */
    @Test
    void whatGetReturnsPutAcceptsUnchanged() throws Exception {
        String key = unique();
        as(TestTokens.OPERATOR).contentType("application/json")
                .body("{\"key\":\"" + key + "\",\"tls\":\"REQUIRED\",\"recipientLimit\":{\"recipients\":10,\"perMinutes\":5}}")
                .when().post("/api/v1/destinations").then().statusCode(201);
        for (String k : java.util.List.of("default", key, "198.18.99.0/24")) {
            if (k.contains("/")) {
                as(TestTokens.OPERATOR).contentType("application/json").body("{\"key\":\"" + k + "\",\"tls\":\"NONE\"}")
                        .when().post("/api/v1/destinations").then().statusCode(org.hamcrest.Matchers.anyOf(equalTo(201), equalTo(409)));
            }
            String before = as(TestTokens.READER).when().get("/api/v1/destinations/" + k).then().statusCode(200)
                    .extract().asString();
            String after = as(TestTokens.OPERATOR).contentType("application/json").body(before)
                    .when().put("/api/v1/destinations/" + k).then().statusCode(200).extract().asString();
            // The answer to a change adds its warnings (none, or about the outbound certificate).
            var answer = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper().readTree(after);
            org.junit.jupiter.api.Assertions.assertTrue(answer.remove("warnings").isArray(), k);
            org.junit.jupiter.api.Assertions.assertEquals(before, answer.toString(), k);
            org.junit.jupiter.api.Assertions.assertEquals(before,
                    as(TestTokens.READER).when().get("/api/v1/destinations/" + k).then().extract().asString(), k);
        }
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"kind\":\"CIDR\",\"tls\":\"NONE\"}")
                .when().put("/api/v1/destinations/" + key).then().statusCode(400)
                .body("errors[0].field", equalTo("kind"));
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/198.18.99.0/24").then().statusCode(204);
    }

    @Test
    void createReadUpdateDeleteWithAuditedComments() {
        String key = unique();
        as(TestTokens.OPERATOR).header("X-Change-Comment", "customer asked for TLS").contentType("application/json")
                .body("{\"key\":\"" + key.toUpperCase() + ".\",\"tls\":\"REQUIRED\",\"recipientLimit\":{\"recipients\":10,\"perMinutes\":5}}")
                .when().post("/api/v1/destinations")
                .then().statusCode(201)
                .body("key", equalTo(key))
                .body("kind", equalTo("DOMAIN"))
                .body("tls", equalTo("REQUIRED"))
                .body("maxConcurrentConnections", equalTo("default"))
                .body("recipientLimit.recipients", equalTo(10));
        as(TestTokens.READER).when().get("/api/v1/destinations/" + key).then().statusCode(200)
                .body("tls", equalTo("REQUIRED"));
        as(TestTokens.READER).when().get("/api/v1/destinations").then().statusCode(200)
                .body("find { it.key == '" + key + "' }.tls", equalTo("REQUIRED"))
                .body("find { it.key == '" + key + "' }.bounceProfile", equalTo("default"));
        as(TestTokens.READER).when().get("/api/v1/destinations/resolve?domain=" + key).then().statusCode(200)
                .body("matched", equalTo(key))
                .body("values.tls", equalTo("REQUIRED"))
                .body("values.maxConcurrentConnections", equalTo(500))
                .body("sources.tls", equalTo(key))
                .body("sources.recipientLimit", equalTo(key))
                .body("sources.maxConcurrentConnections", equalTo("default"));

        as(TestTokens.OPERATOR).header("X-Change-Comment", "relax").contentType("application/json")
                .body("{\"tls\":\"PREFERRED\",\"maxConcurrentConnections\":7}")
                .when().put("/api/v1/destinations/" + key)
                .then().statusCode(200)
                .body("tls", equalTo("PREFERRED"))
                .body("recipientLimit", equalTo("default"))
                .body("maxConcurrentConnections", equalTo(7));
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
        as(TestTokens.READER).when().get("/api/v1/destinations/" + key).then().statusCode(404)
                .contentType("application/problem+json");

        as(TestTokens.OPERATOR).when().get("/api/v1/audit?limit=20").then().statusCode(200)
                .body("findAll { it.entity == 'destination:" + key + "' }.action", contains("delete", "update", "create"))
                .body("find { it.entity == 'destination:" + key + "' && it.action == 'create' }.comment",
                        equalTo("customer asked for TLS"))
                .body("find { it.entity == 'destination:" + key + "' && it.action == 'update' }.before.tls",
                        equalTo("REQUIRED"))
                .body("find { it.entity == 'destination:" + key + "' && it.action == 'update' }.principal",
                        equalTo("test-operator"));
    }

    /**
     * The MTA-STS escape hatch: an entry may ignore the domain's policy; the default entry says
     * false; the change is audited and reaches delivery-service through the resolved policy.
     */
    @Test
    void anEntryMayIgnoreTheDomainsMtaStsPolicyAudited() {
        String key = unique();
        as(TestTokens.READER).when().get("/api/v1/destinations/default").then().statusCode(200)
                .body("ignoreMtaSts", equalTo(false));
        as(TestTokens.OPERATOR).header("X-Change-Comment", "their policy lists a retired MX").contentType("application/json")
                .body("{\"key\":\"" + key + "\",\"ignoreMtaSts\":true}").when().post("/api/v1/destinations")
                .then().statusCode(201).body("ignoreMtaSts", equalTo(true)).body("tls", equalTo("default"));
        as(TestTokens.READER).when().get("/api/v1/destinations/resolve?domain=" + key).then().statusCode(200)
                .body("values.ignoreMtaSts", equalTo(true))
                .body("sources.ignoreMtaSts", equalTo(key));
        as(TestTokens.READER).when().get("/api/v1/destinations/resolve?domain=other-" + key).then().statusCode(200)
                .body("values.ignoreMtaSts", equalTo(false))
                .body("sources.ignoreMtaSts", equalTo("default"));
        as(TestTokens.OPERATOR).when().get("/api/v1/audit?limit=20").then().statusCode(200)
                .body("find { it.entity == 'destination:" + key + "' && it.action == 'create' }.after.ignoreMtaSts", equalTo(true))
                .body("find { it.entity == 'destination:" + key + "' && it.action == 'create' }.comment",
                        equalTo("their policy lists a retired MX"));
        // The appliance-style export carries it, and an import reads it back.
        String ini = as(TestTokens.READER).when().get("/api/v1/destinations/export").then().statusCode(200).extract().asString();
        assertTrue(ini.contains("[" + key + "]\nignore_mta_sts = on\n"), ini);
        as(TestTokens.READER).when().get("/api/v1/destinations").then().statusCode(200)
                .body("find { it.key == '" + key + "' }.ignoreMtaSts", equalTo(true));
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
        // Only a domain entry can ignore a domain's policy.
        create("{\"key\":\"192.0.2.77\",\"ignoreMtaSts\":true}").statusCode(400)
                .body("errors[0].field", equalTo("ignoreMtaSts"));
    }

    @Test
    void anEntryMayIgnoreTheDomainsDaneRecordsAudited() {
        String key = unique();
        as(TestTokens.READER).when().get("/api/v1/destinations/default").then().statusCode(200)
                .body("ignoreDane", equalTo(false));
        as(TestTokens.OPERATOR).header("X-Change-Comment", "their TLSA records are stale").contentType("application/json")
                .body("{\"key\":\"" + key + "\",\"ignoreDane\":true}").when().post("/api/v1/destinations")
                .then().statusCode(201).body("ignoreDane", equalTo(true)).body("ignoreMtaSts", equalTo("default"));
        as(TestTokens.READER).when().get("/api/v1/destinations/resolve?domain=" + key).then().statusCode(200)
                .body("values.ignoreDane", equalTo(true))
                .body("sources.ignoreDane", equalTo(key))
                .body("values.ignoreMtaSts", equalTo(false));
        as(TestTokens.OPERATOR).when().get("/api/v1/audit?limit=20").then().statusCode(200)
                .body("find { it.entity == 'destination:" + key + "' && it.action == 'create' }.after.ignoreDane", equalTo(true));
        String ini = as(TestTokens.READER).when().get("/api/v1/destinations/export").then().statusCode(200).extract().asString();
        assertTrue(ini.contains("[" + key + "]\nignore_dane = on\n"), ini);
        as(TestTokens.READER).when().get("/api/v1/destinations").then().statusCode(200)
                .body("find { it.key == '" + key + "' }.ignoreDane", equalTo(true));
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"ignoreDane\":\"default\"}")
                .when().put("/api/v1/destinations/" + key).then().statusCode(200).body("ignoreDane", equalTo("default"));
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
        create("{\"key\":\"192.0.2.0/24\",\"ignoreDane\":false}").statusCode(400)
                .body("errors[0].field", equalTo("ignoreDane"));
    }

    @Test
    void conflictsAndMissingEntriesAreProblems() {
        String key = "." + unique();
        create("{\"key\":\"" + key + "\"}").statusCode(201).body("kind", equalTo("SUFFIX"));
        create("{\"key\":\"" + key + "\"}").statusCode(409).contentType("application/problem+json");
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/default").then().statusCode(409);
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/nothing.example").then().statusCode(404);
        create("{\"key\":\"default\"}").statusCode(400).body("errors[0].field", equalTo("key"));
        as(TestTokens.READER).contentType("application/json").body("{\"key\":\"x.example\"}")
                .when().post("/api/v1/destinations").then().statusCode(403);
    }

    @Test
    void cidrKeysWorkInPathsAndResolveByLongestPrefix() {
        create("{\"key\":\"198.51.100.0/24\",\"tls\":\"REQUIRED\"}").statusCode(201).body("kind", equalTo("CIDR"));
        create("{\"key\":\"[198.51.100.7]\",\"maxMessagesPerConnection\":3}").statusCode(201)
                .body("key", equalTo("198.51.100.7"));
        as(TestTokens.READER).when().get("/api/v1/destinations/198.51.100.0/24").then().statusCode(200)
                .body("tls", equalTo("REQUIRED"));
        as(TestTokens.READER).when().get("/api/v1/destinations/resolve?ip=198.51.100.7").then().statusCode(200)
                .body("matched", equalTo("198.51.100.7"))
                .body("values.tls", equalTo("NONE"))
                .body("values.maxMessagesPerConnection", equalTo(3));
        as(TestTokens.READER).when().get("/api/v1/destinations/resolve?domain=nomatch.example&ip=198.51.100.9")
                .then().statusCode(200)
                .body("matched", equalTo("198.51.100.0/24"))
                .body("values.tls", equalTo("REQUIRED"));
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/198.51.100.0/24").then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/198.51.100.7").then().statusCode(204);
    }

    @ParameterizedTest(name = "{0} = {1} accepted")
    @CsvSource({
        "maxConcurrentConnections, 1", "maxConcurrentConnections, 1000",
        "maxMessagesPerConnection, 1", "maxMessagesPerConnection, 1000",
        "recipientLimit, '{\"recipients\":0,\"perMinutes\":1}'",
        "recipientLimit, '{\"recipients\":1000000000,\"perMinutes\":60}'",
    })
    void rangeEdgesAreAccepted(String field, String value) {
        String key = unique();
        create("{\"key\":\"" + key + "\",\"" + field + "\":" + value + "}").statusCode(201);
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
    }

    @ParameterizedTest(name = "{0} = {1} refused")
    @CsvSource({
        "maxConcurrentConnections, 0, maxConcurrentConnections",
        "maxConcurrentConnections, 1001, maxConcurrentConnections",
        "maxMessagesPerConnection, 0, maxMessagesPerConnection",
        "maxMessagesPerConnection, 1001, maxMessagesPerConnection",
        "recipientLimit, '{\"recipients\":-1,\"perMinutes\":1}', recipientLimit",
        "recipientLimit, '{\"recipients\":1000000001,\"perMinutes\":1}', recipientLimit",
        "recipientLimit, '{\"recipients\":1,\"perMinutes\":0}', recipientLimit",
        "recipientLimit, '{\"recipients\":1,\"perMinutes\":61}', recipientLimit",
        "recipientLimit, '{\"recipients\":1}', recipientLimit",
        "recipientLimit, '\"unlimited\"', recipientLimit",
        "maxConcurrentConnections, '\"10\"', maxConcurrentConnections",
        "maxConcurrentConnections, 1.5, maxConcurrentConnections",
        "maxConcurrentConnections, 99999999999, maxConcurrentConnections",
        "tls, 5, tls",
        "tls, '\"REQUIRE\"', tls",
        "bounceVerification, '\"yes\"', bounceVerification",
        "ignoreMtaSts, '\"on\"', ignoreMtaSts",
        "ignoreMtaSts, 1, ignoreMtaSts",
        "ignoreDane, '\"yes\"', ignoreDane",
        "limitsApplyPer, '\"HOST\"', limitsApplyPer",
        "limitsScope, null, limitsScope",
        "ipPreference, '\"PREFER_V6\"', ipPreference",
        "bounceProfile, '\"no such profile\"', bounceProfile",
        "bounceProfile, '\"nosuchprofile\"', bounceProfile",
        "colour, '\"blue\"', colour",
    })
    void badFieldsAreRefusedNamingTheFieldAndChangeNothing(String field, String value, String named) {
        String key = unique();
        create("{\"key\":\"" + key + "\"}").statusCode(201);
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"" + field + "\":" + value + "}")
                .when().put("/api/v1/destinations/" + key)
                .then().statusCode(400).contentType("application/problem+json")
                .body("errors.field", hasItem(named));
        create("{\"key\":\"x" + key + "\",\"" + field + "\":" + value + "}").statusCode(400)
                .body("errors.field", hasItem(named));
        // Nothing changed: the entry still uses default everywhere, the other was not created.
        as(TestTokens.READER).when().get("/api/v1/destinations/" + key).then().statusCode(200)
                .body("tls", equalTo("default")).body("maxConcurrentConnections", equalTo("default"))
                .body("recipientLimit", equalTo("default")).body("bounceProfile", equalTo("default"));
        as(TestTokens.READER).when().get("/api/v1/destinations/x" + key).then().statusCode(404);
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
    }

    @ParameterizedTest
    @ValueSource(strings = {"bad..name", "192.0.2.1/24", "256.0.0.1", "-x.example", "192.0.2.0/33", "[nope]", ""})
    void malformedKeysAreRefusedNamingKey(String key) {
        create("{\"key\":\"" + key + "\"}").statusCode(400).body("errors.field", hasItem("key"));
    }

    @Test
    void malformedOversizedAndMistypedBodiesAreRefused() {
        create("{not json").statusCode(400).body("errors[0].field", equalTo("body"));
        create("[1,2]").statusCode(400).body("errors[0].field", equalTo("body"));
        create("{\"key\":\"" + unique() + "\",\"comment\":\"" + "x".repeat(70_000) + "\"}").statusCode(400)
                .body("errors[0].field", equalTo("body"));
        create("{\"key\":42}").statusCode(400).body("errors[0].field", equalTo("key"));
        as(TestTokens.OPERATOR).contentType("application/json").header("X-Change-Comment", "c".repeat(1001))
                .body("{\"key\":\"" + unique() + "\"}").when().post("/api/v1/destinations")
                .then().statusCode(400).body("errors[0].field", equalTo("X-Change-Comment"));
    }

    @Test
    void theDefaultEntryIsEditedPartiallyAndNeverSetToDefault() {
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"tls\":\"default\"}")
                .when().put("/api/v1/destinations/default")
                .then().statusCode(400).body("errors[0].field", equalTo("tls"));
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"maxMessagesPerConnection\":51}")
                .when().put("/api/v1/destinations/default")
                .then().statusCode(200)
                .body("maxMessagesPerConnection", equalTo(51))
                .body("tls", equalTo("NONE"))
                .body("maxConcurrentConnections", equalTo(500));
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"maxMessagesPerConnection\":50}")
                .when().put("/api/v1/destinations/default").then().statusCode(200);
    }

    @Test
    void resolveNeedsAValidDomainOrIp() {
        as(TestTokens.READER).when().get("/api/v1/destinations/resolve").then().statusCode(400)
                .body("errors[0].field", equalTo("domain"));
        as(TestTokens.READER).when().get("/api/v1/destinations/resolve?ip=300.1.1.1").then().statusCode(400)
                .body("errors[0].field", equalTo("ip"));
    }

    @Test
    void aChangeMadeByAnotherReplicaIsVisibleWithinOneSecond() throws Exception {
        String key = unique();
        // Another replica's write: straight into PostgreSQL, not through this service.
        try (Connection c = TlsgateTestResources.postgres().connect(); Statement s = c.createStatement()) {
            s.execute("insert into policy.destination (key, kind, tls) values ('" + key + "', 'DOMAIN', 'REQUIRED_VERIFY')");
        }
        long deadline = System.nanoTime() + 1_000_000_000L;
        String tls = null;
        while (System.nanoTime() < deadline) {
            tls = as(TestTokens.READER).when().get("/api/v1/destinations/resolve?domain=" + key)
                    .then().statusCode(200).extract().path("values.tls");
            if ("REQUIRED_VERIFY".equals(tls)) {
                break;
            }
            Thread.sleep(20);
        }
        assertEquals("REQUIRED_VERIFY", tls, "the change was not visible within 1 s");
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
    }

    static ValidatableResponse create(String json) {
        return as(TestTokens.OPERATOR).contentType("application/json").body(json)
                .when().post("/api/v1/destinations").then();
    }

    @Test
    void listHasOneSummaryRowPerEntry() {
        String key = unique();
        create("{\"key\":\"" + key + "\",\"ipPreference\":\"IPV4_ONLY\",\"bounceVerification\":true}").statusCode(201);
        as(TestTokens.READER).when().get("/api/v1/destinations").then().statusCode(200)
                .body("findAll { it.key == '" + key + "' }", hasSize(1))
                .body("find { it.key == '" + key + "' }.ipPreference", equalTo("IPV4_ONLY"))
                .body("find { it.key == '" + key + "' }.bounceVerification", equalTo(true))
                .body("find { it.key == '" + key + "' }.recipientLimit", equalTo("default"));
        assertTrue(as(TestTokens.READER).when().get("/api/v1/destinations").then().extract()
                .jsonPath().getList("key").contains("default"));
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
    }
}
