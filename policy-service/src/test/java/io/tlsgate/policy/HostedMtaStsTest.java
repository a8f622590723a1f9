package io.tlsgate.policy;

import static io.restassured.RestAssured.given;
import static io.tlsgate.policy.DestinationApiTest.as;
import static io.tlsgate.policy.DestinationApiTest.unique;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.core.sts.MtaStsPolicy;
import io.tlsgate.testkit.TestTokens;
import io.restassured.response.Response;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Publishing MTA-STS policies for our own domains: managed over REST (operator, audited, a new
 * policy id with each change), served to anyone at /.well-known/mta-sts.txt for Host
 * mta-sts.DOMAIN as text/plain in the RFC's format (read back by the same parser
 * delivery-service uses for other domains' policies).
 */
@QuarkusTest
class HostedMtaStsTest {

    private static final String BODY = "{\"mode\":\"enforce\",\"mx\":[\"mx1.%s\",\"*.backup.%s\"],\"maxAgeSeconds\":604800}";

    @Test
    void aPublishedPolicyIsServedToAnyoneForItsHostAndChangesIdWithEveryChange() throws Exception {
        String d = unique();
        Response created = as(TestTokens.OPERATOR).header("X-Change-Comment", "start with testing").contentType("application/json")
                .body(String.format(BODY, d, d).replace("enforce", "testing")).when().put("/api/v1/mta-sts/policies/" + d.toUpperCase());
        created.then().statusCode(200)
                .body("domain", equalTo(d))
                .body("mode", equalTo("testing"))
                .body("txtName", equalTo("_mta-sts." + d))
                .body("policyUrl", equalTo("https://mta-sts." + d + "/.well-known/mta-sts.txt"));
        String firstId = created.path("policyId");
        assertEquals("v=STSv1; id=" + firstId + ";", created.path("txtRecord"));
        assertEquals(firstId, MtaStsPolicy.policyId(List.of(created.<String>path("txtRecord"))), "the TXT record parses to its id");

        // Served without a token, by Host (within 5 s of the change).
        awaitServed("mta-sts." + d, 200, "mode: testing");
        String served = given().header("Host", "mta-sts." + d).when().get("/.well-known/mta-sts.txt").then().statusCode(200)
                .contentType("text/plain").extract().asString();
        MtaStsPolicy p = MtaStsPolicy.parse(served);
        assertEquals(MtaStsPolicy.Mode.TESTING, p.mode());
        assertEquals(List.of("mx1." + d, "*.backup." + d), p.mx());
        assertEquals(604800, p.maxAgeSeconds());
        assertTrue(served.contains("\r\n"), "CRLF lines");

        String secondId = as(TestTokens.OPERATOR).contentType("application/json").body(String.format(BODY, d, d))
                .when().put("/api/v1/mta-sts/policies/" + d).then().statusCode(200).body("mode", equalTo("enforce"))
                .body("policyId", not(equalTo(firstId))).extract().path("policyId");
        assertTrue(secondId.compareTo(firstId) > 0, firstId + " then " + secondId);
        // Served by every replica within 5 s of a change.
        awaitServed("MTA-STS." + d + ":443", 200, "mode: enforce");

        as(TestTokens.READER).when().get("/api/v1/mta-sts/policies").then().statusCode(200)
                .body("find { it.domain == '" + d + "' }.policyId", equalTo(secondId));
        as(TestTokens.OPERATOR).when().get("/api/v1/audit?limit=20").then().statusCode(200)
                .body("find { it.entity == 'mta-sts-policy:" + d + "' && it.action == 'create' }.comment",
                        equalTo("start with testing"))
                .body("find { it.entity == 'mta-sts-policy:" + d + "' && it.action == 'update' }.before.mode", equalTo("testing"));

        as(TestTokens.OPERATOR).when().delete("/api/v1/mta-sts/policies/" + d).then().statusCode(204);
        awaitServed("mta-sts." + d, 404, "no MTA-STS policy here");
        as(TestTokens.READER).when().get("/api/v1/mta-sts/policies/" + d).then().statusCode(404)
                .contentType("application/problem+json");
    }

    private static void awaitServed(String host, int status, String text) throws InterruptedException {
        long deadline = System.nanoTime() + 8_000_000_000L;
        while (true) {
            io.restassured.response.Response r = given().header("Host", host).when().get("/.well-known/mta-sts.txt");
            if (r.statusCode() == status && r.asString().contains(text)) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not served within 8 s: " + r.statusCode() + " " + r.asString());
            }
            Thread.sleep(200);
        }
    }

    @Test
    void otherHostsGetNothingAndManagingNeedsAToken() {
        given().header("Host", "www.example.test").when().get("/.well-known/mta-sts.txt").then().statusCode(404);
        given().header("Host", "mta-sts.").when().get("/.well-known/mta-sts.txt").then().statusCode(404);
        given().when().get("/api/v1/mta-sts/policies").then().statusCode(401);
        String d = unique();
        as(TestTokens.READER).contentType("application/json").body(String.format(BODY, d, d))
                .when().put("/api/v1/mta-sts/policies/" + d).then().statusCode(403);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"mode\":\"strict\",\"mx\":[\"mx.a.test\"],\"maxAgeSeconds\":60}|mode",
        "{\"mode\":\"enforce\",\"mx\":[],\"maxAgeSeconds\":60}|mx",
        "{\"mode\":\"enforce\",\"mx\":[\"*.*.a.test\"],\"maxAgeSeconds\":60}|mx",
        "{\"mode\":\"enforce\",\"mx\":\"mx.a.test\",\"maxAgeSeconds\":60}|mx",
        "{\"mode\":\"enforce\",\"mx\":[\"mx.a.test\"],\"maxAgeSeconds\":31557601}|maxAgeSeconds",
        "{\"mode\":\"enforce\",\"mx\":[\"mx.a.test\"],\"maxAgeSeconds\":-1}|maxAgeSeconds",
        "{\"mode\":\"enforce\",\"mx\":[\"mx.a.test\"]}|maxAgeSeconds",
        "{\"mode\":\"enforce\",\"mx\":[\"mx.a.test\"],\"maxAgeSeconds\":60,\"colour\":1}|colour",
        "{\"domain\":\"other.test\",\"mode\":\"enforce\",\"mx\":[\"mx.a.test\"],\"maxAgeSeconds\":60}|domain",
    })
    void badPoliciesAreRefusedNamingTheFieldAndChangeNothing(String body, String field) {
        String d = unique();
        as(TestTokens.OPERATOR).contentType("application/json").body(body).when().put("/api/v1/mta-sts/policies/" + d)
                .then().statusCode(400).contentType("application/problem+json").body("errors[0].field", equalTo(field));
        as(TestTokens.READER).when().get("/api/v1/mta-sts/policies/" + d).then().statusCode(404);
    }

    @Test
    void aBadDomainIsRefused() {
        as(TestTokens.OPERATOR).contentType("application/json").body(String.format(BODY, "x", "x"))
                .when().put("/api/v1/mta-sts/policies/localhost").then().statusCode(400).body("errors[0].field", equalTo("domain"));
    }
}
