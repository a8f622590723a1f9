package io.tlsgate.delivery.queue;

import io.tlsgate.platform.auth.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: the queue at a glance. */
@Path("/api/v1/queue")
@Produces(MediaType.APPLICATION_JSON)
public class QueueResource {

    private final MessageQueue queue;

    QueueResource(MessageQueue queue) {
        this.queue = queue;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Counts by state, and queued recipients by destination domain")
    public QueueSummary summary() {
        return queue.summary();
    }
}
