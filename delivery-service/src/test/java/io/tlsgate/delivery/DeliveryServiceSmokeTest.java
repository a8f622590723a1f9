package io.tlsgate.delivery;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.platform.events.EventPublisher;
import io.tlsgate.platform.events.EventsConfig;
import io.tlsgate.proto.delivery.v1.DeliveryServiceGrpc;
import io.tlsgate.proto.delivery.v1.Envelope;
import io.tlsgate.testkit.ApiChecks;
import io.tlsgate.testkit.EventChecks;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestTokens;
import io.tlsgate.testkit.TlsgateTestResources;
import jakarta.inject.Inject;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(value = TlsgateTestResources.class, restrictToAnnotatedClass = false)
class DeliveryServiceSmokeTest {

    private static final String BODY = "Subject: smoke\r\n\r\nhello\r\n";

    @TestHTTPResource("/")
    URL url;

    @Inject
    EventPublisher events;

    @Inject
    EventsConfig eventsConfig;

    @Test
    void operationsEndpointsAreOpenAndReadinessCoversDatabaseAndKafka() {
        ApiChecks.assertOperationsEndpoints("/api/v1/messages/{mid}");
    }

    @Test
    void enqueuedMessageIsCommittedBeforeTheReplyAndVisibleOverRest() throws Exception {
        long mid;
        ManagedChannel ch = GrpcChannels.open(url, TestTokens.SERVICE);
        try {
            mid = Enqueue.send(ch, Enqueue.chunks(envelope("a@example.com", "b@example.org"),
                    BODY.getBytes(StandardCharsets.UTF_8), 7));
        } finally {
            ch.shutdownNow();
        }
        // Read back with a separate connection straight from PostgreSQL: the row is committed.
        try (Connection c = TlsgateTestResources.postgres().connect();
                PreparedStatement ps = c.prepareStatement("select convert_from(data, 'UTF8') from delivery.message where mid = ?")) {
            ps.setLong(1, mid);
            try (ResultSet r = ps.executeQuery()) {
                assertTrue(r.next());
                assertEquals(BODY, r.getString(1));
            }
        }
        ApiChecks.assertGetNeedsToken("/api/v1/messages/" + mid, TestTokens.READER)
                .body("mailFrom", equalTo("sender@example.net"))
                .body("size", equalTo(BODY.length()))
                .body("recipients.address", contains("a@example.com", "b@example.org"))
                .body("recipients.rid", contains(0, 1))
                .body("state", equalTo("QUEUED"));
        given().header("Authorization", TestTokens.bearer(TestTokens.READER)).when().get("/api/v1/messages/999999999")
                .then().statusCode(404).contentType("application/problem+json");
        given().header("Authorization", TestTokens.bearer(TestTokens.READER)).when().get("/api/v1/messages/x1")
                .then().statusCode(400).contentType("application/problem+json")
                .body("errors[0].field", equalTo("mid"));
    }

    @Test
    void enqueueRefusesBadEnvelopesAndCallersWithoutTheServiceToken() {
        ManagedChannel good = GrpcChannels.open(url, TestTokens.SERVICE);
        ManagedChannel bad = GrpcChannels.open(url, null);
        try {
            StatusRuntimeException noRcpt = assertThrows(StatusRuntimeException.class,
                    () -> Enqueue.send(good, Enqueue.chunks(envelope(), BODY.getBytes(StandardCharsets.UTF_8), 100)));
            assertEquals(Status.Code.INVALID_ARGUMENT, noRcpt.getStatus().getCode());
            assertTrue(noRcpt.getStatus().getDescription().startsWith("rcpt_to:"));
            StatusRuntimeException noToken = assertThrows(StatusRuntimeException.class,
                    () -> Enqueue.send(bad, Enqueue.chunks(envelope("a@example.com"), new byte[0], 100)));
            assertEquals(Status.Code.UNAUTHENTICATED, noToken.getStatus().getCode());
        } finally {
            good.shutdownNow();
            bad.shutdownNow();
        }
    }

    @Test
    void eventRoundTripsThroughKafka() {
        EventChecks.assertRoundTrip(events::publish, eventsConfig.source());
    }

    private static Envelope envelope(String... rcpts) {
        return Envelope.newBuilder().setMailFrom("sender@example.net").setIcid(42).setListener("test")
                .addAllRcptTo(java.util.List.of(rcpts)).build();
    }
}
