package io.tlsgate.core.events;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import java.util.UUID;

/**
 * One event as tlsgate publishes it: CloudEvents 1.0 attributes plus a Kafka key and a JSON
 * payload. On Kafka the attributes travel as binary-mode headers ({@link #HEADER_ID} ...),
 * the payload as the record value (docs/events.md).
 *
 * @param id unique per event (a random UUID unless given)
 * @param type reverse-DNS event type, e.g. {@code io.tlsgate.tls.outcome}
 * @param source URI-reference of the producer, e.g. {@code /tlsgate/delivery-service}
 * @param time when the event happened
 * @param topic Kafka topic
 * @param key Kafka key (destination domain or listener name); may be null
 * @param payload JSON payload, UTF-8
 */
public record CloudEvent(String id, String type, String source, Instant time, String topic, String key, byte[] payload) {

    public static final String SPEC_VERSION = "1.0";
    public static final String HEADER_ID = "ce_id";
    public static final String HEADER_TYPE = "ce_type";
    public static final String HEADER_SOURCE = "ce_source";
    public static final String HEADER_TIME = "ce_time";
    public static final String HEADER_SPEC_VERSION = "ce_specversion";
    public static final String HEADER_CONTENT_TYPE = "content-type";
    public static final String CONTENT_TYPE_JSON = "application/json";

    public CloudEvent {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(payload, "payload");
    }

    /**
     * A new event with a random id, happening now (to the microsecond: the precision the outbox
     * table keeps, so the time is the same however the event travels).
     */
    public static CloudEvent now(String type, String source, String topic, String key, byte[] payload) {
        return new CloudEvent(UUID.randomUUID().toString(), type, source, Instant.now().truncatedTo(ChronoUnit.MICROS), topic,
                key, payload);
    }
}
