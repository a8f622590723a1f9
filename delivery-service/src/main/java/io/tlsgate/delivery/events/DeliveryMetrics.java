package io.tlsgate.delivery.events;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * delivery-service's counters at {@code /q/metrics} (docs/operations.md, "Metrics"), with
 * tags of few values only (never a domain, host or address):
 * {@code tlsgate_deliveries_total{result}} per recipient (delivered, bounced, deferred),
 * {@code tlsgate_tls_outcomes_total{direction="outbound",mode,result,result_type}} per
 * connection (RFC 8460 result type, {@code none} on success) and
 * {@code tlsgate_tls_alerts_total{direction="outbound",reason}} per alert event.
 */
@ApplicationScoped
public class DeliveryMetrics {

    private final MeterRegistry registry;

    DeliveryMetrics(MeterRegistry registry) {
        this.registry = registry;
        for (String r : new String[] {"delivered", "bounced", "deferred"}) {
            deliveries(r);
        }
    }

    private Counter deliveries(String result) {
        return Counter.builder("tlsgate.deliveries").description("Recipients by the result of a delivery attempt")
                .tag("result", result).register(registry);
    }

    public void recipients(String result, int n) {
        if (n > 0) {
            deliveries(result).increment(n);
        }
    }

    /** One outbound connection's TLS outcome, as in its {@code io.tlsgate.tls.outcome} event. */
    public void tlsOutcome(String mode, String result, String resultType) {
        Counter.builder("tlsgate.tls.outcomes").description("TLS outcomes of SMTP connections")
                .tag("direction", "outbound").tag("mode", mode).tag("result", result)
                .tag("result_type", resultType == null ? "none" : resultType).register(registry).increment();
    }

    /** One {@code io.tlsgate.tls.required-failure} alert event. */
    public void alert(String reason) {
        Counter.builder("tlsgate.tls.alerts").description("Alerts of required-TLS failures").tag("direction", "outbound")
                .tag("reason", reason).register(registry).increment();
    }
}
