package io.tlsgate.policy.audit;

import io.tlsgate.platform.auth.Roles;
import io.tlsgate.policy.PolicyConfig;
import jakarta.annotation.security.RolesAllowed;
import io.tlsgate.platform.problem.InvalidRequestException;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: the audit log, newest first. Operators and admins only: it shows who changed what. */
@Path("/api/v1/audit")
@Produces(MediaType.APPLICATION_JSON)
public class AuditResource {

    private final AuditLog log;
    private final PolicyConfig config;

    AuditResource(AuditLog log, PolicyConfig config) {
        this.log = log;
        this.config = config;
    }

    @GET
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Audit entries, newest first; page with 'before' = the last id seen")
    public List<AuditEntry> list(@QueryParam("limit") @DefaultValue("100") int limit,
            @QueryParam("before") Long before) {
        if (limit < 1 || limit > config.auditMaxPage()) {
            throw InvalidRequestException.field("limit", "must be between 1 and " + config.auditMaxPage());
        }
        if (before != null && before < 1) {
            throw InvalidRequestException.field("before", "must be a positive audit entry id");
        }
        return log.newest(limit, before);
    }
}
