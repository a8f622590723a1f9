package io.tlsgate.platform.events;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.platform.db.Jdbc;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;

/**
 * Publishes the {@link Outbox}'s events to Kafka, oldest first: one thread takes up to
 * {@value #BATCH} rows ({@code for update skip locked}, so replicas share the work without
 * sending an event twice while both run), sends them, waits until the broker has every one,
 * and deletes them in the same transaction. While the broker is away nothing is deleted and
 * the relay tries again every second; after a crash the rows are still there, and events the
 * broker got just before it are sent again with the same id (at least once).
 */
@ApplicationScoped
public class OutboxRelay {

    static final int BATCH = 500;
    private static final Logger LOG = Logger.getLogger(OutboxRelay.class);
    private static final long IDLE_POLL_MS = 250;
    private static final long RETRY_MS = 1000;
    private static final long BROKER_WAIT_SECONDS = 30;

    private final EventsConfig config;
    private final Map<String, Object> kafkaConfig;
    private final DataSource dataSource;
    private final Counter published;
    private final AtomicLong backlog = new AtomicLong();
    private final Object signal = new Object();
    private boolean woken;
    private volatile KafkaProducer<String, byte[]> producer;
    private volatile Thread thread;
    private volatile boolean running;

    OutboxRelay(EventsConfig config, @Identifier("default-kafka-broker") Map<String, Object> kafkaConfig, DataSource dataSource,
            MeterRegistry registry) {
        this.config = config;
        this.kafkaConfig = kafkaConfig;
        this.dataSource = dataSource;
        this.published = registry.counter("tlsgate.events.outbox.published");
        registry.gauge("tlsgate.events.outbox.backlog", backlog);
    }

    /** After the schema migrations. */
    void start(@Observes @Priority(20) StartupEvent ignored) {
        if (!config.enabled()) {
            return;
        }
        producer = new KafkaProducer<>(producerProperties(kafkaConfig, config));
        running = true;
        thread = new Thread(this::run, "tlsgate-outbox-relay");
        thread.setDaemon(true);
        thread.start();
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (producer != null) {
            producer.close(java.time.Duration.ofSeconds(5));
        }
    }

    /** New rows may be there (called when an outbox write is about to commit). */
    void wake() {
        synchronized (signal) {
            woken = true;
            signal.notifyAll();
        }
    }

    /** Events sent but not yet confirmed, or waiting, at the last look (a gauge). */
    public long backlog() {
        return backlog.get();
    }

    private void run() {
        while (running) {
            try {
                int sent = relayOnce();
                if (sent < BATCH) {
                    idle(IDLE_POLL_MS);
                }
            } catch (RuntimeException e) {
                if (!running) {
                    return;
                }
                LOG.debugf("outbox relay: %s; trying again", e.getMessage());
                idle(RETRY_MS);
            }
        }
    }

    private void idle(long ms) {
        synchronized (signal) {
            if (!woken) {
                try {
                    signal.wait(ms);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    running = false;
                }
            }
            woken = false;
        }
    }

    /** One batch: sent, confirmed by the broker, deleted; returns how many. */
    int relayOnce() {
        return Jdbc.transaction(dataSource, c -> {
            List<Long> seqs = new ArrayList<>();
            List<CloudEvent> events = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("select seq, id, type, source, time, topic, key, payload "
                    + "from event_outbox order by seq limit ? for update skip locked")) {
                ps.setInt(1, BATCH);
                try (ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        seqs.add(r.getLong(1));
                        events.add(new CloudEvent(r.getString(2), r.getString(3), r.getString(4), r.getTimestamp(5).toInstant(),
                                r.getString(6), r.getString(7), r.getBytes(8)));
                    }
                }
            }
            backlog.set(events.size());
            if (events.isEmpty()) {
                return 0;
            }
            List<Future<RecordMetadata>> sends = new ArrayList<>();
            for (CloudEvent e : events) {
                sends.add(producer.send(record(e)));
            }
            producer.flush();
            for (Future<RecordMetadata> f : sends) {
                try {
                    f.get(BROKER_WAIT_SECONDS, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    throw new IllegalStateException("the broker did not take the events: " + e.getMessage(), e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
            }
            try (PreparedStatement del = c.prepareStatement("delete from event_outbox where seq = any(?)")) {
                del.setArray(1, c.createArrayOf("bigint", seqs.toArray()));
                del.executeUpdate();
            }
            published.increment(events.size());
            return events.size();
        });
    }

    /** The producer's settings: the configured ones, and safe defaults for events. */
    private static Map<String, Object> producerProperties(Map<String, Object> kafkaConfig, EventsConfig config) {
        Map<String, Object> props = new HashMap<>(kafkaConfig);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.putIfAbsent(ProducerConfig.ACKS_CONFIG, "all");
        props.putIfAbsent(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        // Events are not latency-critical: waiting up to 20 ms fills batches (one produce request
        // for many connections' outcome events), which costs the broker far less than one each.
        props.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "20");
        props.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, config.source().replace('/', '-').substring(1));
        return props;
    }

    /** A record with the CloudEvents attributes as binary-mode headers (docs/events.md). */
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
