package io.tlsgate.platform.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** SQL for {@code audit_log}. Every method works in the caller's connection (and transaction). */
@ApplicationScoped
public class AuditStore {

    private final ObjectMapper json;

    AuditStore(ObjectMapper json) {
        this.json = json;
    }

    /** Inserts an entry; returns it with its id and time. */
    public AuditEntry insert(Connection c, String principal, String action, String entity, JsonNode before,
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

    /**
     * The newest entries first, at most {@code limit}, older than {@code beforeId} and not
     * older than {@code since} when given.
     */
    public List<AuditEntry> newest(Connection c, int limit, Long beforeId, Instant since) throws SQLException {
        String sql = "select id, at, principal, action, entity, before, after, comment from audit_log where true "
                + (beforeId == null ? "" : "and id < ? ") + (since == null ? "" : "and at >= ? ")
                + "order by id desc limit ?";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
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
