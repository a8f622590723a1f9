package io.tlsgate.delivery.events;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.core.events.EventTypes;
import io.tlsgate.core.events.Topics;
import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.core.tls.TlsOutcome;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.tlsgate.platform.events.EventPublisher;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Publishes one {@code io.tlsgate.tls.outcome} per outbound connection's TLS decision to
 * {@code tlsgate.tls-outcomes}, and {@code io.tlsgate.tls.required-failure} alerts to
 * {@code tlsgate.tls-alerts} for REQUIRED* failures, coalesced per domain and reason
 * ({@code tlsgate.delivery.alert-window}, default 15 min). Key: the destination domain.
 * Never blocks delivery: the platform publisher buffers while Kafka is away.
 */
@ApplicationScoped
public class TlsEvents {

    /** Where the connection went and under which policy. */
    public record Connection(long dcid, List<Long> mids, String ip, String host, int port, String domain,
            OutboundTlsMode mode, String modeSource) {}

    private final EventPublisher events;
    private final AlertCoalescer coalescer;
    private ScheduledExecutorService timer;

    TlsEvents(EventPublisher events, DeliveryConfig config) {
        this.events = events;
        this.coalescer = new AlertCoalescer(config.alertWindow());
    }

    void start(@Observes StartupEvent ignored) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tls-alert-flush");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> coalescer.flush(Instant.now()).forEach(this::alert), 1, 1, TimeUnit.MINUTES);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    /**
     * Publishes the connection's outcome, and an alert when a required-TLS failure is due one
     * and {@code alerts} (the global setting "alert on required-TLS failure") is on.
     */
    public void outcome(Connection c, SmtpDeliveryAttempt.Result r, Instant now, boolean alerts) {
        events.publish(new TlsOutcome(new TlsOutcome.Outbound(c.dcid(), c.mids(), c.ip(), c.host(), c.port(), c.domain()),
                c.mode().name(), c.modeSource(), OutboundTlsDecision.result(c.mode(), r.action()), r.resultType(), r.reason(),
                r.protocol(), r.cipher(), r.verification(), now));
        if (r.alert() && alerts) {
            coalescer.record(c.domain(), r.resultType() == null ? "tls-failure" : r.resultType().wire(), now).forEach(this::alert);
        }
    }

    private void alert(AlertCoalescer.Alert a) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("domain", a.domain());
        e.put("reason", a.reason());
        e.put("count", a.count());
        e.put("since", a.since().toString());
        e.put("until", a.until().toString());
        e.put("followUp", a.followUp());
        events.publish(EventTypes.TLS_REQUIRED_FAILURE, Topics.TLS_ALERTS, a.domain(), e);
    }
}
