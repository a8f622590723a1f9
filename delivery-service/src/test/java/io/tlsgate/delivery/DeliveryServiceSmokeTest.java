package io.tlsgate.delivery;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.platform.events.Outbox;
import io.tlsgate.platform.events.EventsConfig;
import io.tlsgate.proto.delivery.v1.DeliveryServiceGrpc;
import io.tlsgate.proto.delivery.v1.Envelope;
import io.tlsgate.testkit.ApiChecks;
import io.tlsgate.testkit.EventChecks;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
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
    Outbox events;

    @Inject
    EventsConfig eventsConfig;

    @Test
    void operationsEndpointsAreOpenAndReadinessCoversDatabaseAndKafka() {
        ApiChecks.assertOperationsEndpoints("/api/v1/messages/{mid}");
    }

    @Test
    void enqueuedMessageIsCommittedBeforeTheReplyAndVisibleOverRest() throws Exception {
        long mid;
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("listener-service"), "delivery-service");
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
    void enqueueRefusesBadEnvelopesAndCallersOtherThanTheListener() {
        ManagedChannel good = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("listener-service"), "delivery-service");
        ManagedChannel bad = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("delivery-service"), "delivery-service");
        try {
            StatusRuntimeException noRcpt = assertThrows(StatusRuntimeException.class,
                    () -> Enqueue.send(good, Enqueue.chunks(envelope(), BODY.getBytes(StandardCharsets.UTF_8), 100)));
            assertEquals(Status.Code.INVALID_ARGUMENT, noRcpt.getStatus().getCode());
            assertTrue(noRcpt.getStatus().getDescription().startsWith("rcpt_to:"));
            // Whatever reaches Enqueue ends up in command lines: CR/LF, controls, UTF-8 and
            // over-long parts are refused here too, not only by the listener.
            for (String hostile : java.util.List.of("a@example.com>\r\nRCPT TO:<b@evil.test", "a\n@example.com",
                    "a@exa\u0000mple.com", "j\u00f6rg@example.com", "a@b\u00fccher.example", "x".repeat(65) + "@example.com",
                    "a@" + "l".repeat(64) + ".example", "a@-bad.example", "a b@example.com", "@example.com", "a@")) {
                for (boolean asSender : new boolean[] {true, false}) {
                    Envelope e = asSender ? envelope("ok@example.com").toBuilder().setMailFrom(hostile).build()
                            : envelope("ok@example.com", hostile);
                    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                            () -> Enqueue.send(good, Enqueue.chunks(e, BODY.getBytes(StandardCharsets.UTF_8), 100)), hostile);
                    assertEquals(Status.Code.INVALID_ARGUMENT, refused.getStatus().getCode(), hostile);
                    assertTrue(refused.getStatus().getDescription().startsWith(asSender ? "mail_from: '" : "rcpt_to: '"),
                            refused.getStatus().getDescription());
                    assertFalse(refused.getStatus().getDescription().contains("\n"), "no raw line break in the error");
                }
            }
            // Only listener-service may queue mail: another service's identity is refused before any of it is read.
            StatusRuntimeException notListener = assertThrows(StatusRuntimeException.class,
                    () -> Enqueue.send(bad, Enqueue.chunks(envelope("a@example.com"), new byte[0], 100)));
            assertEquals(Status.Code.PERMISSION_DENIED, notListener.getStatus().getCode());
        } finally {
            good.shutdownNow();
            bad.shutdownNow();
        }
    }

    @Test
    void eventRoundTripsThroughKafka() {
        EventChecks.assertRoundTrip(events::later, eventsConfig.source());
    }

    private static Envelope envelope(String... rcpts) {
        return Envelope.newBuilder().setMailFrom("sender@example.net").setIcid(42).setListener("test")
                .addAllRcptTo(java.util.List.of(rcpts)).build();
    }
}
