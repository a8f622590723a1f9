package io.tlsgate.platform.audit;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/**
 * One accepted change: when, who, what (entity and action, the state before and after) and
 * the operator's optional comment.
 */
public record AuditEntry(long id, Instant at, String principal, String action, String entity, JsonNode before,
        JsonNode after, String comment) {}
