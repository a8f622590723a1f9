package io.tlsgate.platform.events;

import io.smallrye.common.annotation.Identifier;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * Readiness of the Kafka broker. DOWN when it cannot be reached, unless
 * {@code tlsgate.events.readiness-requires-broker=false} (the mail path), where the check
 * stays UP and reports the broker's state and the buffered events in its data.
 */
@Readiness
@ApplicationScoped
public class KafkaReadinessCheck implements HealthCheck {

    private final EventsConfig config;
    private final Outbox outbox;
    private final OutboxRelay relay;
    private final Admin admin;
    private final String bootstrap;

    KafkaReadinessCheck(EventsConfig config, Outbox outbox, OutboxRelay relay,
            @Identifier("default-kafka-broker") Map<String, Object> kafkaConfig) {
        this.config = config;
        this.outbox = outbox;
        this.relay = relay;
        this.bootstrap = String.valueOf(kafkaConfig.get("bootstrap.servers"));
        Map<String, Object> props = new HashMap<>();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) config.readinessTimeout().toMillis());
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) config.readinessTimeout().toMillis());
        this.admin = Admin.create(props);
    }

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named("kafka")
                .withData("bootstrap", bootstrap)
                .withData("buffered-events", outbox.waiting() + relay.backlog());
        long timeout = config.readinessTimeout().toMillis();
        try {
            int nodes = admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) timeout))
                    .nodes().get(timeout, TimeUnit.MILLISECONDS).size();
            return b.withData("broker", "reachable").withData("nodes", nodes).up().build();
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            b.withData("broker", "unreachable");
            return config.readinessRequiresBroker() ? b.down().build() : b.up().build();
        }
    }

    @PreDestroy
    void close() {
        admin.close(java.time.Duration.ofSeconds(2));
    }
}
