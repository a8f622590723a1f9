package io.tlsgate.policy.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.core.events.EventTypes;
import io.tlsgate.core.events.Topics;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.events.EventPublisher;
import io.tlsgate.platform.events.EventsConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import javax.sql.DataSource;

/**
 * The audit log: {@link #record} stores an entry in the caller's transaction (so a change and
 * its audit entry commit together) and, after the caller commits, {@link #publish} announces
 * it on {@code tlsgate.audit} for SIEMs.
 */
@ApplicationScoped
public class AuditLog {

    private final DataSource dataSource;
    private final AuditStore store;
    private final ObjectMapper json;
    private final EventPublisher events;
    private final EventsConfig eventsConfig;

    AuditLog(DataSource dataSource, AuditStore store, ObjectMapper json, EventPublisher events, EventsConfig eventsConfig) {
        this.dataSource = dataSource;
        this.store = store;
        this.json = json;
        this.events = events;
        this.eventsConfig = eventsConfig;
    }

    /** Inserts an entry using {@code c} (the caller's transaction); returns it with its id and time. */
    public AuditEntry record(Connection c, String principal, String action, String entity, JsonNode before,
            JsonNode after, String comment) throws SQLException {
        return store.insert(c, principal, action, entity, before, after, comment);
    }

    /** Publishes a committed entry to Kafka (never blocks; see {@link EventPublisher}). */
    public void publish(AuditEntry entry) {
        try {
            events.publish(CloudEvent.now(EventTypes.AUDIT_CHANGE, eventsConfig.source(), Topics.AUDIT, entry.entity(),
                    json.writeValueAsBytes(entry)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("audit entry not serialisable", e);
        }
    }

    /**
     * The newest entries first, at most {@code limit}, older than {@code beforeId} and not
     * older than {@code since} when given.
     */
    public List<AuditEntry> newest(int limit, Long beforeId, Instant since) {
        return Jdbc.transaction(dataSource, c -> store.newest(c, limit, beforeId, since));
    }
}
