package io.tlsgate.policy.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.core.events.Topics;
import io.tlsgate.platform.events.EventPublisher;
import io.tlsgate.platform.events.EventsConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
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
    private final ObjectMapper json;
    private final EventPublisher events;
    private final EventsConfig eventsConfig;

    AuditLog(DataSource dataSource, ObjectMapper json, EventPublisher events, EventsConfig eventsConfig) {
        this.dataSource = dataSource;
        this.json = json;
        this.events = events;
        this.eventsConfig = eventsConfig;
    }

    /** Inserts an entry using {@code c} (the caller's transaction); returns it with its id and time. */
    public AuditEntry record(Connection c, String principal, String action, String entity, JsonNode before,
            JsonNode after, String comment) throws SQLException {
        String sql = "insert into audit_log (principal, action, entity, before, after, comment) "
                + "values (?, ?, ?, ?::jsonb, ?::jsonb, ?) returning id, at";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, principal);
            ps.setString(2, action);
            ps.setString(3, entity);
            ps.setString(4, before == null ? null : before.toString());
            ps.setString(5, after == null ? null : after.toString());
            ps.setString(6, comment);
            try (ResultSet r = ps.executeQuery()) {
                r.next();
                return new AuditEntry(r.getLong("id"), r.getTimestamp("at").toInstant(), principal, action, entity,
                        before, after, comment);
            }
        }
    }

    /** Publishes a committed entry to Kafka (never blocks; see {@link EventPublisher}). */
    public void publish(AuditEntry entry) {
        try {
            events.publish(CloudEvent.now(io.tlsgate.core.events.EventTypes.AUDIT_CHANGE, eventsConfig.source(), Topics.AUDIT, entry.entity(),
                    json.writeValueAsBytes(entry)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("audit entry not serialisable", e);
        }
    }

    /**
     * The newest entries first, at most {@code limit}, older than {@code beforeId} and not
     * older than {@code since} when given.
     */
    public List<AuditEntry> newest(int limit, Long beforeId, java.time.Instant since) {
        String sql = "select id, at, principal, action, entity, before, after, comment from audit_log where true "
                + (beforeId == null ? "" : "and id < ? ") + (since == null ? "" : "and at >= ? ")
                + "order by id desc limit ?";
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            int i = 1;
            if (beforeId != null) {
                ps.setLong(i++, beforeId);
            }
            if (since != null) {
                ps.setTimestamp(i++, Timestamp.from(since));
            }
            ps.setInt(i, limit);
            List<AuditEntry> out = new ArrayList<>();
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    Timestamp at = r.getTimestamp("at");
                    out.add(new AuditEntry(r.getLong("id"), at.toInstant(), r.getString("principal"),
                            r.getString("action"), r.getString("entity"), tree(r.getString("before")),
                            tree(r.getString("after")), r.getString("comment")));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the audit log", e);
        }
    }

    private JsonNode tree(String s) {
        try {
            return s == null ? null : json.readTree(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("audit_log holds invalid JSON", e);
        }
    }
}
