package io.tlsgate.delivery.events;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.core.events.EventTypes;
import io.tlsgate.core.events.Topics;
import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.core.tls.TlsOutcome;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.delivery.queue.Claims;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.events.Outbox;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Makes one {@code io.tlsgate.tls.outcome} per outbound connection's TLS decision (topic
 * {@code tlsgate.tls-outcomes}), and {@code io.tlsgate.tls.required-failure} alerts (topic
 * {@code tlsgate.tls-alerts}) for REQUIRED* failures, coalesced per domain and reason
 * ({@code tlsgate.delivery.alert-window}, default 15 min). Key: the destination domain. The
 * outcome and a first alert go into the outbox in the transaction that records the delivery
 * result; follow-up alerts at the end of a window in one of their own. Never blocks delivery:
 * the outbox relay publishes whenever Kafka is there.
 */
@ApplicationScoped
public class TlsEvents {

    private static final Logger LOG = Logger.getLogger(TlsEvents.class);

    private final Outbox outbox;
    private final DataSource dataSource;
    private final AlertWindows windows;
    private ScheduledExecutorService timer;

    private final DeliveryMetrics metrics;

    TlsEvents(Outbox outbox, DataSource dataSource, DeliveryConfig config, DeliveryMetrics metrics) {
        this.outbox = outbox;
        this.metrics = metrics;
        this.dataSource = dataSource;
        this.windows = new AlertWindows(config.alertWindow());
    }

    void start(@Observes StartupEvent ignored) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tls-alert-flush");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::flush, 1, 1, TimeUnit.MINUTES);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    /**
     * The outcome event of {@code c} under {@code mode} (from the entry {@code modeSource}), and an
     * alert when a required-TLS failure is due one and
     * {@code alerts} (the global setting "alert on required-TLS failure") is on: the step that
     * writes them (and counts the failure in its alert window) in the transaction of the
     * delivery result.
     */
    public Claims.Step outcome(TlsOutcome.Outbound c, OutboundTlsMode mode, String modeSource, SmtpDeliveryAttempt.Result r,
            Instant now, boolean alerts) {
        io.tlsgate.core.tls.TlsResult result = OutboundTlsDecision.result(mode, r.action());
        CloudEvent outcome = outbox.event(new TlsOutcome(c, mode.name(), modeSource, result,
                r.resultType(), r.reason(), r.protocol(), r.cipher(), r.verification(), now));
        boolean alert = r.alert() && alerts;
        String reason = r.resultType() == null ? "tls-failure" : r.resultType().wire();
        return tx -> {
            List<CloudEvent> out = new ArrayList<>(List.of(outcome));
            if (alert) {
                windows.record(tx, c.domain(), reason, now).forEach(a -> out.add(alert(a)));
            }
            outbox.add(tx, out);
            // counted as recorded (a rolled-back result is tried again and counted again)
            metrics.tlsOutcome(mode.name(), result.wire(), r.resultType() == null ? null : r.resultType().wire());
        };
    }

    /** Follow-up alerts of windows that ended, into the outbox (any replica may; each window once). */
    void flush() {
        try {
            Jdbc.transaction(dataSource, tx -> {
                outbox.add(tx, windows.flush(tx, Instant.now()).stream().map(this::alert).toList());
                return null;
            });
        } catch (RuntimeException e) {
            LOG.warnf("follow-up TLS alerts not written: %s", e.getMessage());
        }
    }

    private CloudEvent alert(AlertWindows.Alert a) {
        metrics.alert(a.reason());
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("domain", a.domain());
        e.put("reason", a.reason());
        e.put("count", a.count());
        e.put("since", a.since().toString());
        e.put("until", a.until().toString());
        e.put("followUp", a.followUp());
        return outbox.event(EventTypes.TLS_REQUIRED_FAILURE, Topics.TLS_ALERTS, a.domain(), e);
    }
}
