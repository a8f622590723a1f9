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
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Keeps the queue from growing without end: a finished message's content is removed after
 * {@code tlsgate.delivery.retention.content}, the message with its recipients and attempts
 * deleted after {@code records}. Work goes in small transactions of {@code batch} messages,
 * each taking only finished rows and skipping any another replica holds, so cleaning up never
 * waits for delivery nor makes it wait. Every replica does it; they share the work.
 * Also measures the queue's tables on disk ({@code tlsgate_queue_disk_bytes}).
 */
@ApplicationScoped
public class Retention {

    private static final Logger LOG = Logger.getLogger(Retention.class);
    static final List<String> TABLES = List.of("message", "recipient", "attempt");

    /** What one pass did. */
    public record Pass(int contentRemoved, int messagesDeleted, int transactions) {}

    private final DataSource dataSource;
    private final DeliveryConfig.Retention config;
    private final boolean enabled;
    private final java.util.Map<String, Long> diskBytes = new ConcurrentHashMap<>();
    private ScheduledExecutorService timer;

    Retention(DataSource dataSource, DeliveryConfig config, MeterRegistry registry) {
        this.dataSource = dataSource;
        this.config = config.retention();
        this.enabled = config.schedulerEnabled();
        check(this.config);
        for (String t : TABLES) {
            diskBytes.put(t, 0L);
            Gauge.builder("tlsgate.queue.disk", diskBytes, m -> m.getOrDefault(t, 0L)).baseUnit("bytes").tag("table", t)
                    .description("The queue's table with its indexes and TOAST on disk, at the last look").register(registry);
        }
    }

    /** The settings, or a startup failure that says what is wrong with them. */
    static void check(DeliveryConfig.Retention c) {
        if (c.content().isNegative() || c.content().isZero()) {
            throw new IllegalStateException("tlsgate.delivery.retention.content must be positive, not " + c.content());
        }
        if (c.records().compareTo(Duration.ofDays(2)) < 0) {
            throw new IllegalStateException("tlsgate.delivery.retention.records must be at least 2d (TLSRPT reports read "
                    + "yesterday's attempts), not " + c.records());
        }
        if (c.records().compareTo(c.content()) < 0) {
            throw new IllegalStateException("tlsgate.delivery.retention.records (" + c.records()
                    + ") must not be shorter than tlsgate.delivery.retention.content (" + c.content() + ")");
        }
        if (c.batch() < 1 || c.batch() > 100_000) {
            throw new IllegalStateException("tlsgate.delivery.retention.batch must be 1 to 100000, not " + c.batch());
        }
    }

    void start(@Observes StartupEvent ignored) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "queue-retention");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::run, 10, config.interval().toSeconds(), TimeUnit.SECONDS);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    private void run() {
        try {
            if (enabled) {
                Pass p = purge();
                if (p.contentRemoved() + p.messagesDeleted() > 0) {
                    LOG.infof("retention: content of %d finished message(s) removed, %d message record(s) deleted, in %d "
                            + "transaction(s)", p.contentRemoved(), p.messagesDeleted(), p.transactions());
                }
            }
            measure();
        } catch (RuntimeException e) {
            LOG.warnf("retention: %s (tried again in %s)", e.getMessage(), config.interval());
        }
    }

    /** Removes what is due, a batch per transaction, until nothing is. */
    public Pass purge() {
        int content = 0;
        int deleted = 0;
        int tx = 0;
        int n;
        do {
            n = batch("with due as (select mid from message where state <> 'QUEUED' and content_removed_at is null "
                    + "and finished_at < now() - make_interval(secs => ?) order by finished_at limit ? for update skip locked) "
                    + "update message m set data = ''::bytea, content_removed_at = now() from due where m.mid = due.mid",
                    config.content());
            content += n;
            tx++;
        } while (n == config.batch());
        do {
            n = batch("with due as (select mid from message where state <> 'QUEUED' and finished_at < now() - make_interval(secs => ?) "
                    + "order by finished_at limit ? for update skip locked) delete from message m using due where m.mid = due.mid",
                    config.records());
            deleted += n;
            tx++;
        } while (n == config.batch());
        return new Pass(content, deleted, tx);
    }

    private int batch(String sql, Duration age) {
        return Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.setDouble(1, age.toMillis() / 1000.0);
                ps.setInt(2, config.batch());
                return ps.executeUpdate();
            }
        });
    }

    /** Reads the tables' sizes for the gauge. */
    public void measure() {
        Jdbc.transaction(dataSource, c -> {
            for (String t : TABLES) {
                try (PreparedStatement ps = c.prepareStatement("select pg_total_relation_size(?::regclass)")) {
                    ps.setString(1, t);
                    try (ResultSet r = ps.executeQuery()) {
                        r.next();
                        diskBytes.put(t, r.getLong(1));
                    }
                }
            }
            return null;
        });
    }
}
