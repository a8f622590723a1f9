package io.tlsgate.delivery.queue;

import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.problem.Params;
import io.tlsgate.platform.problem.Problem;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: message status. */
@Path("/api/v1/messages")
@Produces(MediaType.APPLICATION_JSON)
public class MessageResource {

    private final MessageQueue queue;

    MessageResource(MessageQueue queue) {
        this.queue = queue;
    }

    @GET
    @Path("/{mid}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "A queued message's envelope and per-recipient state (never its content)")
    public Response get(@PathParam("mid") String midParam) {
        long mid = Params.longParam("mid", midParam, 0L, 1, Long.MAX_VALUE);
        return queue.find(mid)
                .map(m -> Response.ok(m).build())
                .orElseGet(() -> Problem.of(Response.Status.NOT_FOUND, "no message with MID " + mid).toResponse());
    }
}
