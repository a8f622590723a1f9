package io.tlsgate.platform.events;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.core.events.EventTypes;
import io.tlsgate.core.events.Topics;
import io.tlsgate.core.tls.TlsOutcome;
import io.tlsgate.platform.db.Jdbc;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * The one way a tlsgate service publishes events: the transactional outbox. An event is written
 * to the service's {@code event_outbox} table in the same database transaction as what it
 * reports ({@link #add}: a delivery result, a policy change, an alert), so it exists exactly
 * when that does, and {@link OutboxRelay} publishes it to Kafka afterwards, however long the
 * broker is away and across restarts. The CloudEvents {@code id} is fixed when the event is
 * written: a re-send after a crash carries the same id, so consumers can drop duplicates
 * (delivery is at least once). An event with no transaction of its own to join (an inbound
 * connection's outcome) goes through {@link #later}: a bounded queue that one writer thread
 * empties into the table in batches. docs/events.md.
 */
@ApplicationScoped
public class Outbox {

    private static final Logger LOG = Logger.getLogger(Outbox.class);
    /** Payloads are maps of plain JSON values or JSON trees: no module or setting of the application's mapper applies. */
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int WRITE_BATCH = 500;

    private final EventsConfig config;
    private final OutboxRelay relay;
    private final DataSource dataSource;
    private final BlockingQueue<CloudEvent> pending;
    private final Counter dropped;
    private volatile Thread writer;
    private volatile boolean running;

    Outbox(EventsConfig config, OutboxRelay relay, DataSource dataSource, MeterRegistry registry) {
        this.config = config;
        this.relay = relay;
        this.dataSource = dataSource;
        this.pending = new ArrayBlockingQueue<>(config.bufferSize());
        this.dropped = registry.counter("tlsgate.events.dropped");
        registry.gauge("tlsgate.events.buffered", pending, BlockingQueue::size);
    }

    /** After the schema migrations. */
    void start(@Observes @Priority(20) StartupEvent ignored) {
        if (!config.enabled()) {
            LOG.info("event publishing is disabled (tlsgate.events.enabled=false)");
            return;
        }
        running = true;
        writer = new Thread(this::write, "tlsgate-outbox-writer");
        writer.setDaemon(true);
        writer.start();
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        Thread t = writer;
        if (t != null) {
            t.interrupt();
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (!pending.isEmpty()) {
            LOG.warnf("%d events were still waiting to be written at shutdown and are lost", pending.size());
        }
    }

    /** A new event of this service (its source), with a fresh id, happening now; {@code payload} as JSON. */
    public CloudEvent event(String type, String topic, String key, Object payload) {
        try {
            return CloudEvent.now(type, config.source(), topic, key, JSON.writeValueAsBytes(payload));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("event payload is not JSON: " + e.getMessage(), e);
        }
    }

    /** A connection's {@code io.tlsgate.tls.outcome} event, inbound or outbound. */
    public CloudEvent event(TlsOutcome outcome) {
        return event(EventTypes.TLS_OUTCOME, Topics.TLS_OUTCOMES, outcome.key(), outcome.fields());
    }

    /**
     * Writes {@code events} in the caller's transaction {@code c}. The relay is woken and finds
     * them once that transaction commits (at the latest on its next poll, a quarter second on).
     */
    public void add(Connection c, List<CloudEvent> events) throws SQLException {
        if (events.isEmpty() || !config.enabled()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("insert into event_outbox (id, type, source, time, topic, key, payload) "
                + "values (?, ?, ?, ?, ?, ?, ?)")) {
            for (CloudEvent e : events) {
                ps.setString(1, e.id());
                ps.setString(2, e.type());
                ps.setString(3, e.source());
                ps.setTimestamp(4, Timestamp.from(e.time()));
                ps.setString(5, e.topic());
                ps.setString(6, e.key());
                ps.setBytes(7, e.payload());
                ps.addBatch();
            }
            ps.executeBatch();
        }
        relay.wake();
    }

    /** As {@link #add(Connection, List)} for one event. */
    public void add(Connection c, CloudEvent event) throws SQLException {
        add(c, List.of(event));
    }

    /** As {@link #event(String, String, String, Object)} and {@link #add(Connection, CloudEvent)}; returns the event. */
    public CloudEvent add(Connection c, String type, String topic, String key, Map<String, ?> payload) throws SQLException {
        CloudEvent e = event(type, topic, key, payload);
        add(c, e);
        return e;
    }

    /**
     * Queues an event that has no transaction to join, for the writer thread to put in the
     * table within milliseconds. Never blocks.
     *
     * @return false when the queue was full (the database is away or slow) or publishing is
     *     disabled, and the event was dropped (counted in {@code tlsgate_events_dropped_total})
     */
    public boolean later(CloudEvent event) {
        if (!config.enabled()) {
            return false;
        }
        if (pending.offer(event)) {
            return true;
        }
        dropped.increment();
        return false;
    }

    /** Events queued by {@link #later} and not yet in the table. */
    public int waiting() {
        return pending.size();
    }

    private void write() {
        List<CloudEvent> batch = new ArrayList<>();
        while (running) {
            try {
                if (batch.isEmpty()) {
                    CloudEvent first = pending.poll(500, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    batch.add(first);
                    pending.drainTo(batch, WRITE_BATCH - 1);
                }
                Jdbc.transaction(dataSource, c -> {
                    add(c, batch);
                    return null;
                });
                batch.clear();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                // The database is away: keep the batch and try again.
                LOG.debugf("outbox writer: %s; trying again", e.getMessage());
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }
}
