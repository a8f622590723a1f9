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
    private final Attempts attempts;

    MessageResource(MessageQueue queue, Attempts attempts) {
        this.queue = queue;
        this.attempts = attempts;
    }

    @GET
    @Path("/{mid}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "A message's envelope, per-recipient state and delivery attempts with their TLS facts (never its content)")
    public Response get(@PathParam("mid") String midParam) {
        long mid = Params.longParam("mid", midParam, 0L, 1, Long.MAX_VALUE);
        return queue.find(mid)
                .map(m -> Response.ok(new QueuedMessage(m.mid(), m.mailFrom(), m.size(), m.icid(), m.listener(),
                        m.receivedAt(), m.state(), m.tlsRequest(), m.recipients(), attempts.of(mid), m.finishedAt(),
                        m.contentRemovedAt())).build())
                .orElseGet(() -> Problem.of(Response.Status.NOT_FOUND, "no message with MID " + mid).toResponse());
    }
}
