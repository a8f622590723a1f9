package io.tlsgate.platform.audit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tlsgate.core.events.EventTypes;
import io.tlsgate.core.events.Topics;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.events.Outbox;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import javax.sql.DataSource;

/**
 * The audit log: {@link #record} stores an entry and its {@code io.tlsgate.audit.change} event
 * (topic {@code tlsgate.audit}, for SIEMs) in the caller's transaction, so a change, its audit
 * entry and the event commit together; the outbox relay publishes the event.
 */
@ApplicationScoped
public class AuditLog {

    private final DataSource dataSource;
    private final AuditStore store;
    private final ObjectMapper json;
    private final Outbox outbox;

    AuditLog(DataSource dataSource, AuditStore store, ObjectMapper json, Outbox outbox) {
        this.dataSource = dataSource;
        this.store = store;
        this.json = json;
        this.outbox = outbox;
    }

    /** Inserts an entry and its event using {@code c} (the caller's transaction); returns it with its id and time. */
    public AuditEntry record(Connection c, String principal, String action, String entity, JsonNode before,
            JsonNode after, String comment) throws SQLException {
        AuditEntry entry = store.insert(c, principal, action, entity, before, after, comment);
        // The application's mapper writes the entry as the REST API shows it (times as ISO-8601).
        outbox.add(c, outbox.event(EventTypes.AUDIT_CHANGE, Topics.AUDIT, entry.entity(), json.valueToTree(entry)));
        return entry;
    }

    /**
     * As {@link #record(Connection, String, String, String, JsonNode, JsonNode, String)}, with the
     * states before and after as the REST API shows them (null: none) and no comment.
     */
    public AuditEntry record(Connection c, String principal, String action, String entity, Object before, Object after)
            throws SQLException {
        return record(c, principal, action, entity, before == null ? null : json.valueToTree(before),
                after == null ? null : json.valueToTree(after), null);
    }

    /**
     * The newest entries first, at most {@code limit}, older than {@code beforeId} and not
     * older than {@code since} when given.
     */
    public List<AuditEntry> newest(int limit, Long beforeId, Instant since) {
        return Jdbc.transaction(dataSource, c -> store.newest(c, limit, beforeId, since));
    }
}
