package io.tlsgate.delivery.queue;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.platform.db.Jdbc;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * The queue's depth and age as gauges, read every {@code tlsgate.delivery.queue-metrics-interval}
 * from the queued recipients only (an index covers them): {@code tlsgate_queue_recipients{state}}
 * and {@code tlsgate_queue_oldest_seconds{state}} (since the oldest one's message arrived), where
 * {@code state} is {@code due} (its next attempt is now), {@code waiting} (for a retry) or
 * {@code in_flight} (being delivered). The same numbers on every replica: the queue is shared.
 */
@ApplicationScoped
public class QueueMetrics {

    private static final Logger LOG = Logger.getLogger(QueueMetrics.class);
    static final List<String> STATES = List.of("due", "waiting", "in_flight");

    private final DataSource dataSource;
    private final java.time.Duration interval;
    private final Map<String, Long> count = new ConcurrentHashMap<>();
    private final Map<String, Double> oldest = new ConcurrentHashMap<>();
    private ScheduledExecutorService timer;

    QueueMetrics(DataSource dataSource, DeliveryConfig config, MeterRegistry registry) {
        this.dataSource = dataSource;
        this.interval = config.queueMetricsInterval();
        for (String s : STATES) {
            count.put(s, 0L);
            oldest.put(s, 0.0);
            Gauge.builder("tlsgate.queue.recipients", count, m -> m.getOrDefault(s, 0L)).tag("state", s)
                    .description("Queued recipients: due now, waiting for a retry, being delivered").register(registry);
            Gauge.builder("tlsgate.queue.oldest", oldest, m -> m.getOrDefault(s, 0.0)).tag("state", s).baseUnit("seconds")
                    .description("Age of the oldest queued recipient's message (0 when none)").register(registry);
        }
    }

    void start(@Observes StartupEvent ignored) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "queue-metrics");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::measureQuietly, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    private void measureQuietly() {
        try {
            measure();
        } catch (RuntimeException e) {
            LOG.debugf("queue metrics not read: %s", e.getMessage());
        }
    }

    /** Reads the gauges' values now. */
    public void measure() {
        Jdbc.snapshot(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("select case when r.lease_until >= now() then 'in_flight' "
                    + "when r.next_attempt_at <= now() then 'due' else 'waiting' end, count(*), "
                    + "extract(epoch from now() - min(m.received_at)) from recipient r join message m on m.mid = r.mid "
                    + "where r.state = 'QUEUED' group by 1");
                    ResultSet r = ps.executeQuery()) {
                Map<String, Long> n = new java.util.HashMap<>();
                Map<String, Double> age = new java.util.HashMap<>();
                while (r.next()) {
                    n.put(r.getString(1), r.getLong(2));
                    age.put(r.getString(1), Math.max(0, r.getDouble(3)));
                }
                for (String s : STATES) {
                    count.put(s, n.getOrDefault(s, 0L));
                    oldest.put(s, age.getOrDefault(s, 0.0));
                }
            }
            return null;
        });
    }
}
