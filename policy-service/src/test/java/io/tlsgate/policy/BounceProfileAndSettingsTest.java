package io.tlsgate.policy;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.specification.RequestSpecification;
import io.tlsgate.proto.policy.v1.BounceProfile;
import io.tlsgate.proto.policy.v1.GetOutboundSettingsRequest;
import io.tlsgate.proto.policy.v1.OutboundSettings;
import io.tlsgate.proto.policy.v1.PolicyChange;
import io.tlsgate.proto.policy.v1.PolicyServiceGrpc;
import io.tlsgate.proto.policy.v1.WatchChangesRequest;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
import io.tlsgate.testkit.TestTokens;
import java.net.URL;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Bounce profiles, outbound settings, audit paging by time, and the WatchChanges stream. */
@QuarkusTest
class BounceProfileAndSettingsTest {

    @TestHTTPResource("/")
    URL url;

    static RequestSpecification as(String token) {
        return given().header("Authorization", TestTokens.bearer(token));
    }

    static String profile(String name, int retries, int queue, int initial, int max) {
        return "{\"name\":\"" + name + "\",\"maxRetries\":" + retries + ",\"maxTimeInQueueSeconds\":" + queue
                + ",\"initialRetrySeconds\":" + initial + ",\"maxRetrySeconds\":" + max
                + ",\"sendHardBounces\":true,\"sendDelayWarnings\":false}";
    }

    @Test
    void aProfileInUseCannotBeDeletedAndDefaultNever() {
        String name = "p" + UUID.randomUUID().toString().substring(0, 8);
        as(TestTokens.OPERATOR).contentType("application/json").body(profile(name, 5, 3600, 60, 600))
                .when().post("/api/v1/bounce-profiles").then().statusCode(201).body("maxRetries", equalTo(5));
        as(TestTokens.OPERATOR).contentType("application/json").body(profile(name, 5, 3600, 60, 600))
                .when().post("/api/v1/bounce-profiles").then().statusCode(409);
        String key = name + ".example";
        as(TestTokens.OPERATOR).contentType("application/json")
                .body("{\"key\":\"" + key + "\",\"bounceProfile\":\"" + name + "\"}")
                .when().post("/api/v1/destinations").then().statusCode(201);
        as(TestTokens.OPERATOR).when().delete("/api/v1/bounce-profiles/" + name).then().statusCode(409)
                .contentType("application/problem+json").body("detail", startsWith("bounce profile '" + name + "' is used by 1"));
        as(TestTokens.OPERATOR).when().delete("/api/v1/bounce-profiles/default").then().statusCode(409);

        as(TestTokens.OPERATOR).contentType("application/json").body(profile(name, 7, 7200, 120, 1200))
                .when().put("/api/v1/bounce-profiles/" + name).then().statusCode(200).body("maxRetries", equalTo(7));
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
        as(TestTokens.OPERATOR).when().delete("/api/v1/bounce-profiles/" + name).then().statusCode(204);
        as(TestTokens.READER).when().get("/api/v1/bounce-profiles/" + name).then().statusCode(404);
        as(TestTokens.READER).when().get("/api/v1/bounce-profiles").then().statusCode(200)
                .body("name", hasItem("default"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "maxRetries -1 | -1 | 3600 | 60 | 600 | maxRetries",
        "maxRetries 10001 | 10001 | 3600 | 60 | 600 | maxRetries",
        "queue 59 | 1 | 59 | 60 | 600 | maxTimeInQueueSeconds",
        "queue 2592001 | 1 | 2592001 | 60 | 600 | maxTimeInQueueSeconds",
        "initial 59 | 1 | 3600 | 59 | 600 | initialRetrySeconds",
        "max 86401 | 1 | 3600 | 60 | 86401 | maxRetrySeconds",
        "max below initial | 1 | 3600 | 600 | 60 | maxRetrySeconds",
    })
    void profileRangesAreChecked(String label, int retries, int queue, int initial, int max, String field) {
        String name = "r" + UUID.randomUUID().toString().substring(0, 8);
        as(TestTokens.OPERATOR).contentType("application/json").body(profile(name, retries, queue, initial, max))
                .when().post("/api/v1/bounce-profiles").then().statusCode(400).body("errors.field", hasItem(field));
        as(TestTokens.READER).when().get("/api/v1/bounce-profiles/" + name).then().statusCode(404);
    }

    @Test
    void profileEdgesAreAcceptedAndMissingFieldsNamed() {
        String name = "e" + UUID.randomUUID().toString().substring(0, 8);
        as(TestTokens.OPERATOR).contentType("application/json").body(profile(name, 0, 60, 60, 60))
                .when().post("/api/v1/bounce-profiles").then().statusCode(201);
        as(TestTokens.OPERATOR).contentType("application/json").body(profile(name, 10000, 2592000, 86400, 86400))
                .when().put("/api/v1/bounce-profiles/" + name).then().statusCode(200);
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"name\":\"x" + name + "\"}")
                .when().post("/api/v1/bounce-profiles").then().statusCode(400)
                .body("errors.field", hasItem("maxRetries")).body("errors.field", hasItem("sendDelayWarnings"));
        as(TestTokens.OPERATOR).when().delete("/api/v1/bounce-profiles/" + name).then().statusCode(204);
    }

    @Test
    void outboundSettingsChangeFieldByFieldAndAreAudited() {
        Instant start = Instant.now().minusSeconds(1);
        String before = as(TestTokens.READER).when().get("/api/v1/settings/outbound").then().statusCode(200)
                .body("certificateSlot", equalTo("outbound")).extract().asString();
        // Global outbound settings are admin-only: an operator gets 403, nothing changes, nothing is audited.
        as(TestTokens.OPERATOR).header("X-Change-Comment", "operator try").contentType("application/json")
                .body("{\"alertOnRequiredTlsFailure\":false,\"trustedCaMode\":\"CUSTOM_ONLY\"}")
                .when().put("/api/v1/settings/outbound").then().statusCode(403)
                .contentType("application/problem+json").body("status", equalTo(403));
        assertEquals(before, as(TestTokens.READER).when().get("/api/v1/settings/outbound").then().statusCode(200)
                .extract().asString());
        as(TestTokens.OPERATOR).when().get("/api/v1/audit?since=" + start).then().statusCode(200)
                .body("comment", not(hasItem("operator try")));
        as(TestTokens.ADMIN).header("X-Change-Comment", "pager too noisy").contentType("application/json")
                .body("{\"alertOnRequiredTlsFailure\":false}")
                .when().put("/api/v1/settings/outbound").then().statusCode(200)
                .body("alertOnRequiredTlsFailure", equalTo(false))
                .body("trustedCaMode", equalTo("SYSTEM_AND_CUSTOM"));
        as(TestTokens.ADMIN).contentType("application/json").body("{\"trustedCaMode\":\"ALL\",\"colour\":1}")
                .when().put("/api/v1/settings/outbound").then().statusCode(400)
                .body("errors.field", hasItem("trustedCaMode")).body("errors.field", hasItem("colour"));
        as(TestTokens.OPERATOR).when().get("/api/v1/audit?since=" + start).then().statusCode(200)
                .body("find { it.entity == 'settings:outbound' }.comment", equalTo("pager too noisy"))
                .body("find { it.entity == 'settings:outbound' }.after.alertOnRequiredTlsFailure", equalTo(false));
        as(TestTokens.OPERATOR).when().get("/api/v1/audit?since=yesterday").then().statusCode(400)
                .body("errors[0].field", equalTo("since"));
        as(TestTokens.ADMIN).contentType("application/json").body("{\"alertOnRequiredTlsFailure\":true}")
                .when().put("/api/v1/settings/outbound").then().statusCode(200);
    }

    @Test
    void grpcOutboundSettingsCarryEveryProfileAndTheNewVersionAfterAChange() {
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("delivery-service"), "policy-service");
        try {
            var stub = PolicyServiceGrpc.newBlockingStub(ch);
            OutboundSettings before = stub.getOutboundSettings(GetOutboundSettingsRequest.getDefaultInstance());
            assertEquals("outbound", before.getCertificateSlot());
            assertTrue(before.getBounceProfilesList().stream().anyMatch(p -> p.getName().equals("default")));
            String name = "g" + UUID.randomUUID().toString().substring(0, 8);
            as(TestTokens.OPERATOR).contentType("application/json").body(profile(name, 3, 7200, 120, 1200))
                    .when().post("/api/v1/bounce-profiles").then().statusCode(201);
            OutboundSettings after = stub.getOutboundSettings(GetOutboundSettingsRequest.getDefaultInstance());
            assertTrue(after.getVersion() > before.getVersion(), before.getVersion() + " -> " + after.getVersion());
            BounceProfile p = after.getBounceProfilesList().stream().filter(x -> x.getName().equals(name)).findFirst()
                    .orElseThrow();
            assertEquals(3, p.getMaxRetries());
            assertEquals(7200, p.getMaxTimeInQueueSeconds());
            assertEquals(120, p.getInitialRetrySeconds());
            assertEquals(1200, p.getMaxRetrySeconds());
            assertTrue(p.getSendHardBounces());
            as(TestTokens.OPERATOR).when().delete("/api/v1/bounce-profiles/" + name).then().statusCode(204);
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void watchChangesStreamsTheVersionAndEveryNewOne() throws Exception {
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("delivery-service"), "policy-service");
        LinkedBlockingQueue<Long> versions = new LinkedBlockingQueue<>();
        try {
            PolicyServiceGrpc.newStub(ch).watchChanges(WatchChangesRequest.getDefaultInstance(),
                    new StreamObserver<PolicyChange>() {
                        @Override
                        public void onNext(PolicyChange c) {
                            versions.add(c.getVersion());
                        }

                        @Override
                        public void onError(Throwable t) {
                            versions.add(-1L);
                        }

                        @Override
                        public void onCompleted() {
                        }
                    });
            Long first = versions.poll(10, TimeUnit.SECONDS);
            assertTrue(first != null && first > 0, "no current version streamed: " + first);
            String key = "w" + UUID.randomUUID().toString().substring(0, 8) + ".example";
            as(TestTokens.OPERATOR).contentType("application/json").body("{\"key\":\"" + key + "\"}")
                    .when().post("/api/v1/destinations").then().statusCode(201);
            Long next = versions.poll(5, TimeUnit.SECONDS);
            assertTrue(next != null && next > first, "no newer version after a change: " + next);
            as(TestTokens.OPERATOR).when().delete("/api/v1/destinations/" + key).then().statusCode(204);
            Long after = versions.poll(5, TimeUnit.SECONDS);
            assertEquals(next + 1, after);
        } finally {
            ch.shutdownNow();
        }
    }
}
