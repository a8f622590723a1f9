package io.tlsgate.platform.audit;

import io.tlsgate.platform.auth.Roles;
import jakarta.annotation.security.RolesAllowed;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.Params;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * REST: the service's audit log, newest first (every service has one; docs/security.md).
 * Operators and admins only: it shows who changed what.
 */
@Path("/api/v1/audit")
@Produces(MediaType.APPLICATION_JSON)
public class AuditResource {

    private final AuditLog log;
    private final AuditConfig config;

    AuditResource(AuditLog log, AuditConfig config) {
        this.log = log;
        this.config = config;
    }

    @GET
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Audit entries, newest first, at or after 'since' (ISO-8601); page with 'before' = the last id seen")
    public List<AuditEntry> list(@QueryParam("limit") String limit, @QueryParam("before") String before,
            @QueryParam("since") String since) {
        long max = config.maxPage();
        int n = Params.longParam("limit", limit, Math.min(100L, max), 1, max).intValue();
        Instant from = null;
        if (since != null && !since.isBlank()) {
            try {
                from = Instant.parse(since.strip());
            } catch (DateTimeParseException e) {
                throw InvalidRequestException.field("since", "not an ISO-8601 instant such as 2026-11-25T10:00:00Z");
            }
        }
        return log.newest(n, Params.longParam("before", before, null, 1, Long.MAX_VALUE), from);
    }
}
