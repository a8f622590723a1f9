package io.tlsgate.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.events.CloudEvent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** Proves a service's event path reaches the real broker with CloudEvents headers intact. */
public final class EventChecks {

    private EventChecks() {}

    /**
     * Publishes one event through {@code publisher} (the service's own publisher, which must
     * accept it) and reads it back from Kafka with a plain consumer.
     */
    public static void assertRoundTrip(Predicate<CloudEvent> publisher, String source) {
        String key = "smoke-" + UUID.randomUUID();
        byte[] payload = ("{\"smoke\":\"" + key + "\"}").getBytes(StandardCharsets.UTF_8);
        CloudEvent sent = CloudEvent.now("io.tlsgate.test.smoke", source, "tlsgate.test-smoke", key, payload);
        assertTrue(publisher.test(sent), "the publisher refused the event");

        ConsumerRecord<String, byte[]> r = KafkaRecords.await(sent.topic(), rec -> key.equals(rec.key()),
                Duration.ofSeconds(30));
        assertEquals(sent.id(), KafkaRecords.header(r, CloudEvent.HEADER_ID));
        assertEquals(sent.type(), KafkaRecords.header(r, CloudEvent.HEADER_TYPE));
        assertEquals(source, KafkaRecords.header(r, CloudEvent.HEADER_SOURCE));
        assertEquals(sent.time().toString(), KafkaRecords.header(r, CloudEvent.HEADER_TIME));
        assertEquals(CloudEvent.SPEC_VERSION, KafkaRecords.header(r, CloudEvent.HEADER_SPEC_VERSION));
        assertEquals(CloudEvent.CONTENT_TYPE_JSON, KafkaRecords.header(r, CloudEvent.HEADER_CONTENT_TYPE));
        assertArrayEquals(payload, r.value());
    }
}
