package io.tlsgate.cert.certs;

import static io.tlsgate.cert.certs.CertificateApiTest.generate;
import static io.tlsgate.cert.certs.CertificateApiTest.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.core.events.Topics;
import io.tlsgate.testkit.KafkaRecords;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** Expiring certificates raise one alert per day on the real Kafka topic; others none. */
@QuarkusTest
class ExpiryAlertTest {

    @Inject
    ExpiryAlerts alerts;

    @Inject
    ObjectMapper json;

    @Test
    void oneAlertPerCertificatePerDay() throws Exception {
        String soon = unique();
        String later = unique();
        generate("{\"name\":\"" + soon + "\",\"commonName\":\"soon.example\",\"keyType\":\"EC_P256\",\"validityDays\":10}")
                .statusCode(201);
        generate("{\"name\":\"" + later + "\",\"commonName\":\"later.example\",\"keyType\":\"EC_P256\",\"validityDays\":31}")
                .statusCode(201);
        Instant now = Instant.now();
        assertTrue(alerts.check(now).contains(soon));
        assertFalse(alerts.check(now).contains(soon), "the same day: no second alert");
        assertFalse(alerts.check(now).contains(later), "31 days away is outside the 30-day window");
        assertTrue(alerts.check(now.plus(Duration.ofDays(1))).contains(soon), "the next day: alerted again");
        assertTrue(alerts.check(now.plus(Duration.ofDays(2))).contains(later), "29 days before expiry: alerted");

        ConsumerRecord<String, byte[]> r = KafkaRecords.await(Topics.TLS_ALERTS, x -> soon.equals(x.key()),
                Duration.ofSeconds(30));
        assertEquals("io.tlsgate.cert.expiring", KafkaRecords.header(r, CloudEvent.HEADER_TYPE));
        assertEquals("/tlsgate/cert-service", KafkaRecords.header(r, CloudEvent.HEADER_SOURCE));
        JsonNode event = json.readTree(r.value());
        assertEquals(soon, event.get("certificate").asText());
        assertTrue(event.get("daysToExpiry").asInt() == 9 || event.get("daysToExpiry").asInt() == 10, event.toString());
        assertFalse(event.get("expired").asBoolean());
        assertEquals(3, KafkaRecords.count(Topics.TLS_ALERTS, x -> soon.equals(x.key()), Duration.ofSeconds(3)),
                "one alert on each of the three days checked");
    }
}
