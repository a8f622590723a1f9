package io.tlsgate.policy.destination;

import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.problem.InvalidRequestException;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: destination controls. */
@Path("/api/v1/destination-controls")
@Produces(MediaType.APPLICATION_JSON)
public class DestinationControlResource {

    private final DestinationControls controls;

    DestinationControlResource(DestinationControls controls) {
        this.controls = controls;
    }

    @GET
    @Path("/resolve")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Which settings apply to recipient domain D?",
            description = "The effective values and the entry that supplied the TLS mode.")
    public Response resolve(@QueryParam("domain") String domain) {
        try {
            return Response.ok(controls.resolve(domain)).build();
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.field("domain", e.getMessage());
        }
    }
}
