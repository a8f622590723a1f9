package io.tlsgate.delivery.events;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.core.tls.TlsOutcome;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.core.events.Topics;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.tlsgate.testkit.KafkaRecords;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import io.tlsgate.platform.tls.PeerTrust;

/**
 * A required-TLS failure against a real peer: one outcome event per connection, one coalesced
 * alert, through the outbox on real Kafka.
 */
@QuarkusTest
class TlsEventsTest {

    @Inject
    TlsEvents events;

    @Inject
    ObjectMapper json;

    @Inject
    io.tlsgate.delivery.queue.Claims claims;

    @Inject
    io.vertx.core.Vertx vertx;

    @Test
    void outcomesAndCoalescedAlertsReachKafka() throws Exception {
        String domain = "d" + UUID.randomUUID().toString().substring(0, 8) + ".example";
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("nostarttls", null).noStarttls())) {
            for (long dcid = 1; dcid <= 3; dcid++) {
                SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt(vertx, dcid).run(
                        new SmtpDeliveryAttempt.Target("127.0.0.1", peer.port(), "mx." + domain, domain, List.of("mx." + domain),
                                null, OutboundTlsMode.REQUIRED, PeerTrust.NONE, "gateway.example", null),
                        new SmtpDeliveryAttempt.Message(100L + dcid, List.of(0), "a@example.com", List.of("b@" + domain),
                                "x\r\n".getBytes(StandardCharsets.US_ASCII)));
                // Written as the delivery result is: in the batch's transaction, published by the outbox relay.
                claims.commit("tls-events-test", new io.tlsgate.delivery.queue.Claims.Batch().within(events.outcome(
                        new TlsOutcome.Outbound(dcid, List.of(100L + dcid), "127.0.0.1", "mx." + domain, peer.port(), domain),
                        OutboundTlsMode.REQUIRED, domain, r, Instant.now(), true)));
            }
        }
        ConsumerRecord<String, byte[]> outcome = KafkaRecords.await(Topics.TLS_OUTCOMES, r -> domain.equals(r.key()),
                Duration.ofSeconds(30));
        assertEquals("io.tlsgate.tls.outcome", KafkaRecords.header(outcome, CloudEvent.HEADER_TYPE));
        JsonNode o = json.readTree(outcome.value());
        assertEquals("failure", o.get("result").asText());
        assertEquals("starttls-not-supported", o.get("resultType").asText());
        assertEquals("STARTTLS not advertised", o.get("reason").asText(), "the failure named as in the mail log");
        assertEquals("REQUIRED", o.get("mode").asText());
        assertEquals(1, o.get("dcid").asLong());
        assertEquals(3, KafkaRecords.count(Topics.TLS_OUTCOMES, r -> domain.equals(r.key()), Duration.ofSeconds(3)),
                "one outcome per connection");
        ConsumerRecord<String, byte[]> alert = KafkaRecords.await(Topics.TLS_ALERTS, r -> domain.equals(r.key()),
                Duration.ofSeconds(30));
        assertEquals("io.tlsgate.tls.required-failure", KafkaRecords.header(alert, CloudEvent.HEADER_TYPE));
        assertEquals(1, json.readTree(alert.value()).get("count").asInt());
        assertEquals(1, KafkaRecords.count(Topics.TLS_ALERTS, r -> domain.equals(r.key()), Duration.ofSeconds(3)),
                "three failures in one window: one alert now, the rest in the follow-up");
    }
}
