package io.tlsgate.platform.events;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/**
 * How a service publishes events. The broker address itself is Quarkus' standard
 * {@code kafka.bootstrap.servers} (default {@code localhost:19092}, devstack's broker).
 */
@ConfigMapping(prefix = "tlsgate.events")
public interface EventsConfig {

    /** Whether events are published at all. Default: true. */
    @WithDefault("true")
    boolean enabled();

    /**
     * Events without a transaction of their own waiting to be written to the outbox table (see
     * {@link Outbox#later}); past this, new ones are dropped and counted
     * ({@code tlsgate_events_dropped_total}). Default: 10000.
     */
    @WithDefault("10000")
    int bufferSize();

    /**
     * Whether an unreachable broker makes the service not ready. Default: true. The mail path
     * (listener-service, delivery-service) sets it to false: Kafka being down never stops mail,
     * the check then only reports the broker's state.
     */
    @WithDefault("true")
    boolean readinessRequiresBroker();

    /** How long the readiness check waits for the broker. Default: 3s. */
    @WithDefault("3s")
    Duration readinessTimeout();

    /** CloudEvents {@code source} of this service's events. Default: {@code /tlsgate/<application name>}. */
    @WithDefault("/tlsgate/${quarkus.application.name}")
    String source();
}
