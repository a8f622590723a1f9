package io.tlsgate.listener.instance;

import io.tlsgate.platform.auth.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: the running listener-service replicas. */
@Path("/api/v1/instances")
@Produces(MediaType.APPLICATION_JSON)
public class InstanceResource {

    private final InstanceRegistry registry;

    InstanceResource(InstanceRegistry registry) {
        this.registry = registry;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "listener-service replicas, with their last heartbeat")
    public List<Instance> list() {
        return registry.all();
    }
}
