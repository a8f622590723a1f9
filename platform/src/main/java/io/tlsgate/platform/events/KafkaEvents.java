package io.tlsgate.platform.events;

import io.tlsgate.core.events.CloudEvent;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** How tlsgate's events become Kafka records: producer settings and CloudEvents binary-mode headers. */
final class KafkaEvents {

    private KafkaEvents() {}

    /** The producer settings of this service's event publishing ({@code clientSuffix} tells its producers apart). */
    static Map<String, Object> producerProperties(Map<String, Object> kafkaConfig, EventsConfig config, String clientSuffix) {
        Map<String, Object> props = new HashMap<>(kafkaConfig);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.putIfAbsent(ProducerConfig.ACKS_CONFIG, "all");
        props.putIfAbsent(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        // Events are not latency-critical: waiting up to 20 ms fills batches (one produce request
        // for many connections' outcome events), which costs the broker far less than one each.
        props.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "20");
        props.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, config.source().replace('/', '-').substring(1) + "-" + clientSuffix);
        return props;
    }

    static ProducerRecord<String, byte[]> record(CloudEvent e) {
        RecordHeaders h = new RecordHeaders();
        h.add(CloudEvent.HEADER_ID, utf8(e.id()));
        h.add(CloudEvent.HEADER_TYPE, utf8(e.type()));
        h.add(CloudEvent.HEADER_SOURCE, utf8(e.source()));
        h.add(CloudEvent.HEADER_TIME, utf8(e.time().toString()));
        h.add(CloudEvent.HEADER_SPEC_VERSION, utf8(CloudEvent.SPEC_VERSION));
        h.add(CloudEvent.HEADER_CONTENT_TYPE, utf8(CloudEvent.CONTENT_TYPE_JSON));
        return new ProducerRecord<>(e.topic(), null, e.key(), e.payload(), h);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
