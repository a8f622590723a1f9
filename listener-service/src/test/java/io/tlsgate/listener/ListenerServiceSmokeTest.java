package io.tlsgate.listener;

import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.listener.instance.InstanceRegistry;
import io.tlsgate.platform.events.Outbox;
import io.tlsgate.platform.events.EventsConfig;
import io.tlsgate.testkit.ApiChecks;
import io.tlsgate.testkit.EventChecks;
import io.tlsgate.testkit.TestTokens;
import io.tlsgate.testkit.TlsgateTestResources;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import org.junit.jupiter.api.Test;

@QuarkusTest
@QuarkusTestResource(value = TlsgateTestResources.class, restrictToAnnotatedClass = false)
class ListenerServiceSmokeTest {

    @Inject
    InstanceRegistry registry;

    @Inject
    Outbox events;

    @Inject
    EventsConfig eventsConfig;

    @Test
    void operationsEndpointsAreOpenAndReadinessCoversDatabaseAndKafka() {
        ApiChecks.assertOperationsEndpoints("/api/v1/instances");
    }

    @Test
    void thisReplicaRoundTripsThroughTheSchemaAndHeartbeatsMoveForward() throws Exception {
        ApiChecks.assertGetNeedsToken("/api/v1/instances", TestTokens.READER)
                .body("find { it.self }.id", equalTo(registry.id().toString()))
                .body("find { it.self }.alive", equalTo(true));
        Timestamp before = heartbeat();
        Thread.sleep(20);
        registry.heartbeat();
        assertTrue(heartbeat().after(before), "heartbeat_at did not move forward");
    }

    @Test
    void eventRoundTripsThroughKafka() {
        EventChecks.assertRoundTrip(events::later, eventsConfig.source());
    }

    private Timestamp heartbeat() throws Exception {
        try (Connection c = TlsgateTestResources.postgres().connect();
                PreparedStatement ps = c.prepareStatement("select heartbeat_at from listener.instance where id = ?")) {
            ps.setObject(1, registry.id());
            try (ResultSet r = ps.executeQuery()) {
                assertTrue(r.next(), "this replica is not registered");
                return r.getTimestamp(1);
            }
        }
    }
}
