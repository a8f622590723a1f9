package io.tlsgate.testkit;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Reads what services published to the test broker, as a real Kafka consumer would. */
public final class KafkaRecords {

    private KafkaRecords() {}

    /**
     * The first record on {@code topic} (from its beginning) that matches, waiting up to
     * {@code timeout}.
     *
     * @throws AssertionError when none arrives in time
     */
    public static ConsumerRecord<String, byte[]> await(String topic, Predicate<ConsumerRecord<String, byte[]>> match,
            Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = fromTheBeginning()) {
            consumer.subscribe(List.of(topic));
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (match.test(r)) {
                        return r;
                    }
                }
            }
        }
        throw new AssertionError("no matching record on " + topic + " within " + timeout);
    }

    /** How many records on {@code topic} (from its beginning) match, reading for {@code window}. */
    public static int count(String topic, Predicate<ConsumerRecord<String, byte[]>> match, Duration window) {
        long deadline = System.nanoTime() + window.toNanos();
        int n = 0;
        try (KafkaConsumer<String, byte[]> consumer = fromTheBeginning()) {
            consumer.subscribe(List.of(topic));
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (match.test(r)) {
                        n++;
                    }
                }
            }
        }
        return n;
    }

    /**
     * Every record on {@code topic} of the broker at {@code bootstrap}, from its beginning,
     * read until {@code enough} holds for them or {@code timeout} passes (then what was read).
     */
    public static List<ConsumerRecord<String, byte[]>> readUntil(String bootstrap, String topic,
            Predicate<List<ConsumerRecord<String, byte[]>>> enough, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<ConsumerRecord<String, byte[]>> all = new java.util.ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = fromTheBeginning(bootstrap)) {
            consumer.subscribe(List.of(topic));
            while (System.nanoTime() < deadline && !enough.test(all)) {
                consumer.poll(Duration.ofMillis(200)).forEach(all::add);
            }
        }
        return all;
    }

    /** A consumer in a fresh group that reads topics from their beginning. */
    private static KafkaConsumer<String, byte[]> fromTheBeginning() {
        return fromTheBeginning(TlsgateTestResources.kafkaBootstrapServers());
    }

    private static KafkaConsumer<String, byte[]> fromTheBeginning(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "test-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    /** A header's value as UTF-8, or null when absent. */
    public static String header(ConsumerRecord<?, ?> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** The record value as UTF-8. */
    public static String value(ConsumerRecord<String, byte[]> r) {
        return new String(r.value(), StandardCharsets.UTF_8);
    }
}
