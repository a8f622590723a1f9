package io.tlsgate.policy.inbound;

import io.tlsgate.platform.auth.Roles;
import io.tlsgate.policy.inbound.InboundJson.SenderGroupView;
import io.tlsgate.policy.web.RequestSupport;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: sender groups (client patterns and the mail flow policy they get). */
@Path("/api/v1/sender-groups")
@Produces(MediaType.APPLICATION_JSON)
public class SenderGroupResource {

    private final Inbound inbound;
    private final RequestSupport request;

    SenderGroupResource(Inbound inbound, RequestSupport request) {
        this.inbound = inbound;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "All sender groups")
    public List<SenderGroupView> list() {
        return inbound.groups();
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Create a sender group (409 when the name exists)")
    public Response create(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        SenderGroupView v = inbound.saveGroup(InboundJson.group(request.listBody(body), null), true, request.change(comment));
        return RequestSupport.created("/api/v1/sender-groups/" + v.name(), v);
    }

    @GET
    @Path("/{name}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One sender group")
    public SenderGroupView get(@PathParam("name") String name) {
        return inbound.group(name);
    }

    @PUT
    @Path("/{name}")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Replace a sender group (for the catch-all ALL only the policy can change)")
    public SenderGroupView replace(@PathParam("name") String name, String body,
            @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        return inbound.saveGroup(InboundJson.group(request.listBody(body), name), false, request.change(comment));
    }

    @DELETE
    @Path("/{name}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Delete a sender group (409 for ALL or one in a host access table)")
    public Response delete(@PathParam("name") String name, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        inbound.deleteGroup(name, request.change(comment));
        return Response.noContent().build();
    }
}
