package io.tlsgate.cert;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.platform.events.Outbox;
import io.tlsgate.platform.events.EventsConfig;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.GetTrustRequest;
import io.tlsgate.proto.cert.v1.TrustBundle;
import io.tlsgate.testkit.ApiChecks;
import io.tlsgate.testkit.EventChecks;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
import io.tlsgate.testkit.TestPki;
import io.tlsgate.testkit.TestTokens;
import io.tlsgate.testkit.TlsgateTestResources;
import jakarta.inject.Inject;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(value = TlsgateTestResources.class, restrictToAnnotatedClass = false)
class CertServiceSmokeTest {

    @TestHTTPResource("/")
    URL url;

    @Inject
    Outbox events;

    @Inject
    EventsConfig eventsConfig;

    @Test
    void operationsEndpointsAreOpenAndReadinessCoversDatabaseAndKafka() {
        ApiChecks.assertOperationsEndpoints("/api/v1/trusted-cas");
    }

    @Test
    void restNeedsABearerTokenAndTheRightRole() {
        ApiChecks.assertGetNeedsToken("/api/v1/trusted-cas", TestTokens.READER);
        given().header("Authorization", TestTokens.bearer(TestTokens.READER)).contentType("application/x-pem-file")
                .body(ascii(TestPki.selfSignedCa("Reader CA", Duration.ofDays(1)).certificatePem()))
                .when().post("/api/v1/trusted-cas")
                .then().statusCode(403).contentType("application/problem+json");
    }

    @Test
    void trustedCaRoundTripsThroughTheSchemaRestAndGrpc() {
        TestPki.Issued ca = TestPki.selfSignedCa("Smoke Root CA", Duration.ofDays(30));
        // Trusting a CA is admin-only: an operator gets 403 and nothing is added.
        given().header("Authorization", TestTokens.bearer(TestTokens.OPERATOR))
                .contentType("application/x-pem-file").body(ascii(ca.certificatePem()))
                .when().post("/api/v1/trusted-cas")
                .then().statusCode(403).contentType("application/problem+json");
        given().header("Authorization", TestTokens.bearer(TestTokens.READER))
                .when().get("/api/v1/trusted-cas")
                .then().statusCode(200)
                .body("subject", not(hasItem("CN=Smoke Root CA,O=tlsgate tests")));
        String id = given().header("Authorization", TestTokens.bearer(TestTokens.ADMIN))
                .contentType("application/x-pem-file").body(ascii(ca.certificatePem()))
                .when().post("/api/v1/trusted-cas")
                .then().statusCode(201)
                .header("Location", containsString("/api/v1/trusted-cas/"))
                .body("subject", equalTo("CN=Smoke Root CA,O=tlsgate tests"))
                .body("addedBy", equalTo("test-admin"))
                .extract().path("id");

        given().header("Authorization", TestTokens.bearer(TestTokens.READER))
                .when().get("/api/v1/trusted-cas")
                .then().statusCode(200)
                .body("id", hasItem(id));
        given().header("Authorization", TestTokens.bearer(TestTokens.READER))
                .when().get("/api/v1/trusted-cas/" + id)
                .then().statusCode(200)
                .body("pem", startsWith("-----BEGIN CERTIFICATE-----"));
        given().header("Authorization", TestTokens.bearer(TestTokens.READER))
                .when().get("/api/v1/trusted-cas/00000000-0000-0000-0000-000000000000")
                .then().statusCode(404).contentType("application/problem+json");

        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("delivery-service"), "cert-service");
        try {
            TrustBundle bundle = CertServiceGrpc.newBlockingStub(ch).getTrust(GetTrustRequest.getDefaultInstance());
            assertTrue(bundle.getRevision() >= 1);
            assertTrue(bundle.getCasList().stream()
                    .anyMatch(c -> c.getId().equals(id) && c.getPem().startsWith("-----BEGIN CERTIFICATE-----")));
        } finally {
            ch.shutdownNow();
        }

        given().header("Authorization", TestTokens.bearer(TestTokens.ADMIN))
                .contentType("application/x-pem-file").body(ascii(ca.certificatePem()))
                .when().post("/api/v1/trusted-cas")
                .then().statusCode(400).contentType("application/problem+json")
                .body("errors[0].field", equalTo("pem"))
                .body("errors[0].message", startsWith("this CA is already trusted"));

        given().header("Authorization", TestTokens.bearer(TestTokens.READER))
                .when().delete("/api/v1/trusted-cas/" + id).then().statusCode(403);
        given().header("Authorization", TestTokens.bearer(TestTokens.OPERATOR))
                .when().delete("/api/v1/trusted-cas/" + id).then().statusCode(403).contentType("application/problem+json");
        given().header("Authorization", TestTokens.bearer(TestTokens.READER))
                .when().get("/api/v1/trusted-cas/" + id).then().statusCode(200);
        given().header("Authorization", TestTokens.bearer(TestTokens.ADMIN))
                .when().delete("/api/v1/trusted-cas/" + id).then().statusCode(204);
        given().header("Authorization", TestTokens.bearer(TestTokens.ADMIN))
                .when().delete("/api/v1/trusted-cas/" + id).then().statusCode(404).contentType("application/problem+json");
        given().header("Authorization", TestTokens.bearer(TestTokens.READER))
                .when().get("/api/v1/trusted-cas/" + id).then().statusCode(404);
    }

    @Test
    void garbageOrNonCaCertificateIsRefusedNamingTheField() {
        given().header("Authorization", TestTokens.bearer(TestTokens.ADMIN))
                .contentType("application/x-pem-file").body(ascii("-----BEGIN CERTIFICATE-----\nnot base64!\n"))
                .when().post("/api/v1/trusted-cas")
                .then().statusCode(400).contentType("application/problem+json")
                .body("errors[0].field", equalTo("pem"));
        given().header("Authorization", TestTokens.bearer(TestTokens.ADMIN))
                .contentType("application/x-pem-file").body(ascii("x".repeat(70_000)))
                .when().post("/api/v1/trusted-cas")
                .then().statusCode(400).body("errors[0].message", startsWith("larger than"));
    }

    @Test
    void grpcWithoutAServiceIdentityIsUnauthenticated() {
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), null, "cert-service");
        try {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> CertServiceGrpc.newBlockingStub(ch).getTrust(GetTrustRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void eventRoundTripsThroughKafka() {
        EventChecks.assertRoundTrip(events::later, eventsConfig.source());
        assertEquals("/tlsgate/cert-service", eventsConfig.source());
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
