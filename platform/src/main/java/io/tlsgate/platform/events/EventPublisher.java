package io.tlsgate.platform.events;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.core.events.EventTypes;
import io.tlsgate.core.events.Topics;
import io.tlsgate.core.tls.TlsOutcome;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;

/**
 * Publishes {@link CloudEvent}s to Kafka without ever blocking the caller: {@link #publish}
 * puts the event in a bounded in-memory buffer and returns; one sender thread moves events
 * to the Kafka producer. While the broker is unreachable the sender waits and the buffer
 * fills; when it is full, new events are dropped and counted. Events the producer could not
 * deliver go back into the buffer, so a broker outage loses nothing that fits in it.
 *
 * <p>Not security-sensitive by itself; callers must not put secrets in payloads.
 */
@ApplicationScoped
public class EventPublisher {

    private static final Logger LOG = Logger.getLogger(EventPublisher.class);
    /** Payloads are maps of plain JSON values: no module or setting of the application's mapper applies. */
    private static final ObjectMapper JSON = new ObjectMapper();

    private final EventsConfig config;
    private final Map<String, Object> kafkaConfig;
    private final BlockingQueue<CloudEvent> buffer;
    private final Counter published;
    private final Counter dropped;
    private volatile KafkaProducer<String, byte[]> producer;
    private volatile Thread sender;
    private volatile boolean running;

    EventPublisher(EventsConfig config, @Identifier("default-kafka-broker") Map<String, Object> kafkaConfig,
            MeterRegistry registry) {
        this.config = config;
        this.kafkaConfig = kafkaConfig;
        this.buffer = new ArrayBlockingQueue<>(config.bufferSize());
        this.published = registry.counter("tlsgate.events.published");
        this.dropped = registry.counter("tlsgate.events.dropped");
        registry.gauge("tlsgate.events.buffered", buffer, BlockingQueue::size);
    }

    void start(@Observes StartupEvent ignored) {
        if (!config.enabled()) {
            LOG.info("event publishing is disabled (tlsgate.events.enabled=false)");
            return;
        }
        Map<String, Object> props = new HashMap<>(kafkaConfig);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.putIfAbsent(ProducerConfig.ACKS_CONFIG, "all");
        props.putIfAbsent(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        // Events are not latency-critical: waiting up to 20 ms fills batches (one produce request
        // for many connections' outcome events), which costs the broker far less than one each.
        props.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "20");
        props.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, config.source().replace('/', '-').substring(1));
        producer = new KafkaProducer<>(props);
        running = true;
        sender = new Thread(this::drain, "tlsgate-event-sender");
        sender.setDaemon(true);
        sender.start();
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        Thread t = sender;
        if (t != null) {
            t.interrupt();
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (producer != null) {
            producer.close(java.time.Duration.ofSeconds(5));
        }
        if (!buffer.isEmpty()) {
            LOG.warnf("%d events were still buffered at shutdown and are lost", buffer.size());
        }
    }

    /**
     * Queues an event for Kafka. Never blocks.
     *
     * @return false when the buffer was full (or publishing is disabled) and the event was dropped
     */
    public boolean publish(CloudEvent event) {
        if (!config.enabled()) {
            return false;
        }
        if (buffer.offer(event)) {
            return true;
        }
        dropped.increment();
        return false;
    }

    /**
     * Queues an event of {@code type} whose data is {@code payload} as JSON (plain values, lists
     * and maps), from this service's source. Never blocks.
     *
     * @return false when the event was dropped (see {@link #publish(CloudEvent)})
     */
    public boolean publish(String type, String topic, String key, Map<String, ?> payload) {
        try {
            return publish(CloudEvent.now(type, config.source(), topic, key, JSON.writeValueAsBytes(payload)));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("event payload is not JSON: " + e.getMessage(), e);
        }
    }

    /** Queues a connection's {@code io.tlsgate.tls.outcome} event, inbound or outbound (docs/events.md). Never blocks. */
    public boolean publish(TlsOutcome outcome) {
        return publish(EventTypes.TLS_OUTCOME, Topics.TLS_OUTCOMES, outcome.key(), outcome.fields());
    }

    /** Events waiting for the broker. */
    public int buffered() {
        return buffer.size();
    }

    private void drain() {
        while (running) {
            CloudEvent e;
            try {
                e = buffer.poll(500, TimeUnit.MILLISECONDS);
            } catch (InterruptedException ie) {
                return;
            }
            if (e == null) {
                continue;
            }
            try {
                producer.send(record(e), (meta, failure) -> {
                    if (failure == null) {
                        published.increment();
                    } else {
                        LOG.debugf("event %s not delivered (%s), buffered again", e.id(), failure.toString());
                        if (!buffer.offer(e)) {
                            dropped.increment();
                        }
                    }
                });
            } catch (RuntimeException failure) {
                // e.g. metadata not available within max.block.ms: the broker is away; keep the event.
                if (!running || !buffer.offer(e)) {
                    dropped.increment();
                }
            }
        }
    }

    private static ProducerRecord<String, byte[]> record(CloudEvent e) {
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
