package io.tlsgate.policy;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.core.events.Topics;
import io.tlsgate.platform.audit.AuditEntry;
import io.tlsgate.platform.audit.AuditLog;
import io.tlsgate.proto.policy.v1.OutboundPolicy;
import io.tlsgate.proto.policy.v1.OutboundTlsMode;
import io.tlsgate.proto.policy.v1.PolicyServiceGrpc;
import io.tlsgate.proto.policy.v1.ResolveOutboundRequest;
import io.tlsgate.testkit.ApiChecks;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
import io.tlsgate.testkit.KafkaRecords;
import io.tlsgate.testkit.TestTokens;
import io.tlsgate.testkit.TlsgateTestResources;
import jakarta.inject.Inject;
import java.net.URL;
import java.util.List;
import java.sql.Connection;
import java.time.Duration;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(value = TlsgateTestResources.class, restrictToAnnotatedClass = false)
class PolicyServiceSmokeTest {

    @TestHTTPResource("/")
    URL url;

    @Inject
    AuditLog auditLog;

    @Inject
    DataSource dataSource;

    @Inject
    ObjectMapper json;

    @Test
    void operationsEndpointsAreOpenAndReadinessCoversDatabaseAndKafka() {
        ApiChecks.assertOperationsEndpoints("/api/v1/destinations/resolve");
    }

    @Test
    void restNeedsABearerTokenAndTheRightRole() {
        ApiChecks.assertGetNeedsToken("/api/v1/destinations/resolve?domain=smoke.example", TestTokens.READER)
                .body("values.tls", equalTo("NONE"))
                .body("sources.tls", equalTo("default"));
        ApiChecks.assertGetForbidden("/api/v1/audit", TestTokens.READER);
        given().header("Authorization", TestTokens.bearer(TestTokens.OPERATOR)).when().get("/api/v1/audit")
                .then().statusCode(200);
    }

    @Test
    void badQueryParameterGetsProblemNamingTheField() {
        given().header("Authorization", TestTokens.bearer(TestTokens.READER))
                .when().get("/api/v1/destinations/resolve?domain=bad..name")
                .then().statusCode(400)
                .contentType("application/problem+json")
                .body("errors.field", hasItem("domain"));
        given().header("Authorization", TestTokens.bearer(TestTokens.OPERATOR))
                .when().get("/api/v1/audit?limit=0")
                .then().statusCode(400)
                .contentType("application/problem+json")
                .body("errors.field", hasItem("limit"));
        given().header("Authorization", TestTokens.bearer(TestTokens.OPERATOR))
                .when().get("/api/v1/audit?before=abc")
                .then().statusCode(400)
                .contentType("application/problem+json")
                .body("errors.field", hasItem("before"));
    }

    @Test
    void auditEntryRoundTripsThroughTheSchemaAndKafka() throws Exception {
        String entity = "destination-control:smoke-" + UUID.randomUUID() + ".example";
        AuditEntry entry;
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            entry = auditLog.record(c, "test-operator", "update", entity,
                    json.readTree("{\"tls\":\"NONE\"}"), json.readTree("{\"tls\":\"REQUIRED\"}"), "smoke test");
            c.commit();
        }

        given().header("Authorization", TestTokens.bearer(TestTokens.OPERATOR))
                .when().get("/api/v1/audit?limit=5")
                .then().statusCode(200)
                .body("find { it.entity == '" + entity + "' }.after.tls", equalTo("REQUIRED"))
                .body("find { it.entity == '" + entity + "' }.comment", equalTo("smoke test"));

        ConsumerRecord<String, byte[]> r = KafkaRecords.await(Topics.AUDIT, rec -> entity.equals(rec.key()),
                Duration.ofSeconds(30));
        assertEquals("io.tlsgate.audit.change", KafkaRecords.header(r, CloudEvent.HEADER_TYPE));
        assertEquals("/tlsgate/policy-service", KafkaRecords.header(r, CloudEvent.HEADER_SOURCE));
        assertEquals("1.0", KafkaRecords.header(r, CloudEvent.HEADER_SPEC_VERSION));
        assertEquals("REQUIRED", json.readTree(r.value()).at("/after/tls").asText());
    }

    @Test
    void grpcResolveOutboundIsForDeliveryServiceOnly() throws Exception {
        int port = GrpcChannels.testPort();
        TestIdentities ids = TestIdentities.get();
        ManagedChannel delivery = GrpcChannels.open(port, ids.of("delivery-service"), "policy-service");
        ManagedChannel listener = GrpcChannels.open(port, ids.of("listener-service"), "policy-service");
        ManagedChannel noCertificate = GrpcChannels.open(port, null, "policy-service");
        ManagedChannel foreign = GrpcChannels.open(port, ids.foreign("delivery-service"), "policy-service");
        ManagedChannel plaintext = GrpcChannels.plaintext(port);
        try {
            OutboundPolicy p = PolicyServiceGrpc.newBlockingStub(delivery)
                    .resolveOutbound(ResolveOutboundRequest.newBuilder().setDomain("Smoke.EXAMPLE.").build());
            assertEquals(OutboundTlsMode.NONE, p.getTls());
            assertEquals("default", p.getMatchedKey());
            assertEquals("default", p.getSourcesMap().get("tls"));
            assertEquals(500, p.getMaxConcurrentConnections());
            assertEquals(50, p.getMaxMessagesPerConnection());

            StatusRuntimeException bad = assertThrows(StatusRuntimeException.class,
                    () -> PolicyServiceGrpc.newBlockingStub(delivery)
                            .resolveOutbound(ResolveOutboundRequest.newBuilder().setDomain("a..b").build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
            assertTrue(bad.getStatus().getDescription().startsWith("domain:"));

            ResolveOutboundRequest any = ResolveOutboundRequest.newBuilder().setDomain("example.com").build();
            assertEquals(Status.Code.PERMISSION_DENIED, code(() -> PolicyServiceGrpc.newBlockingStub(listener).resolveOutbound(any)));
            assertEquals(Status.Code.UNAUTHENTICATED,
                    code(() -> PolicyServiceGrpc.newBlockingStub(noCertificate).resolveOutbound(any)));
            // A certificate from another CA fails the handshake; plaintext gets no gRPC answer at all.
            assertEquals(Status.Code.UNAVAILABLE, code(() -> PolicyServiceGrpc.newBlockingStub(foreign).resolveOutbound(any)));
            assertEquals(Status.Code.UNAVAILABLE, code(() -> PolicyServiceGrpc.newBlockingStub(plaintext)
                    .withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS).resolveOutbound(any)));
        } finally {
            for (ManagedChannel ch : List.of(delivery, listener, noCertificate, foreign, plaintext)) {
                ch.shutdownNow();
            }
        }
    }

    private static Status.Code code(org.junit.jupiter.api.function.Executable call) {
        return assertThrows(StatusRuntimeException.class, call).getStatus().getCode();
    }
}
