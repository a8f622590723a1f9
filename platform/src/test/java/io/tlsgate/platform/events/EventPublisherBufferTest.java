package io.tlsgate.platform.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tlsgate.core.events.CloudEvent;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * With no broker to talk to, publishing never blocks the caller: events wait in the bounded
 * buffer, and what does not fit is dropped and counted ({@code tlsgate_events_dropped_total}).
 * (That buffered events reach Kafka once it is back is shown with a real broker in devstack's
 * DeliveryQueueClusterIT.)
 */
class EventPublisherBufferTest {

    @Test
    void aBrokerThatIsAwayFillsTheBoundedBufferAndCountsWhatIsDropped() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0)) {
            deadPort = s.getLocalPort();
        }
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        EventPublisher publisher = new EventPublisher(config(5), Map.of("bootstrap.servers", "localhost:" + deadPort,
                "max.block.ms", "60000"), registry);
        publisher.start(null);
        try {
            int accepted = 0;
            for (int i = 0; i < 50; i++) {
                if (publisher.publish(CloudEvent.now("io.tlsgate.test", "/tlsgate/test", "tlsgate.test", "k" + i,
                        "{}".getBytes(StandardCharsets.UTF_8)))) {
                    accepted++;
                }
            }
            // The sender thread may hold one event (blocked on the absent broker); the rest wait in the buffer.
            assertTrue(accepted >= 5 && accepted <= 6, "accepted " + accepted);
            assertEquals(50 - accepted, registry.counter("tlsgate.events.dropped").count(), 0.0);
            assertTrue(publisher.buffered() <= 5, "bounded: " + publisher.buffered());
            assertEquals(0, registry.counter("tlsgate.events.published").count(), 0.0);
        } finally {
            publisher.stop(null);
        }
    }

    private static EventsConfig config(int bufferSize) {
        return new EventsConfig() {
            @Override
            public boolean enabled() {
                return true;
            }

            @Override
            public int bufferSize() {
                return bufferSize;
            }

            @Override
            public boolean readinessRequiresBroker() {
                return false;
            }

            @Override
            public Duration readinessTimeout() {
                return Duration.ofSeconds(1);
            }

            @Override
            public String source() {
                return "/tlsgate/test";
            }
        };
    }
}
