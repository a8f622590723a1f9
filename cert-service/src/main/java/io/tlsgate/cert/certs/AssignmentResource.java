package io.tlsgate.cert.certs;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.cert.web.RequestSupport;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.json.JsonFields;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import java.util.Set;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: which certificate each slot ({@code listener:<name>}, {@code outbound}, {@code https}) serves. */
@Path("/api/v1/assignments")
@Produces(MediaType.APPLICATION_JSON)
public class AssignmentResource {

    private final Certificates certificates;
    private final RequestSupport request;

    AssignmentResource(Certificates certificates, RequestSupport request) {
        this.certificates = certificates;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Every assigned slot, plus outbound and https (which serve the demo certificate until assigned)")
    public List<Certificates.AssignmentView> list() {
        return certificates.assignments();
    }

    @GET
    @Path("/{slot}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "What a slot serves; an unassigned slot serves the demo certificate and says so")
    public Certificates.AssignmentView get(@PathParam("slot") String slot) {
        return certificates.assignment(slot);
    }

    @PUT
    @Path("/{slot}")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Assign a certificate: {\"certificate\": \"name\"}; watchers get it within 2 seconds. What GET "
            + "returns is accepted unchanged (\"assigned\": false keeps the slot unassigned)")
    public Certificates.AssignmentView put(@PathParam("slot") String slot, String body) {
        JsonNode json = request.json(body, 4096);
        JsonFields f = JsonFields.of(json, Set.of("certificate", "slot", "assigned", "demo", "note"));
        String name = f.string("certificate", Certificates.NAME, "the name of a certificate");
        f.require("certificate");
        if (f.has("slot") && !slot.equals(json.get("slot").asText())) {
            f.error("slot", "must be the slot in the path");
        }
        Boolean assigned = f.bool("assigned");
        f.check();
        if (Boolean.FALSE.equals(assigned)) {
            // What GET shows for a slot with nothing assigned, sent back: it stays so.
            return certificates.unassign(slot, request.principal());
        }
        return certificates.assign(slot, name, request.principal());
    }

    @DELETE
    @Path("/{slot}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Remove an assignment: the slot serves the demo certificate again")
    public Certificates.AssignmentView delete(@PathParam("slot") String slot) {
        return certificates.unassign(slot, request.principal());
    }
}
