package io.tlsgate.policy.inbound;

import io.tlsgate.platform.auth.Roles;
import io.tlsgate.policy.inbound.InboundJson.PolicyView;
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

/** REST: mail flow policies (behaviour, TLS setting, TLS-mandatory senders, limits). */
@Path("/api/v1/mail-flow-policies")
@Produces(MediaType.APPLICATION_JSON)
public class MailFlowPolicyResource {

    private final Inbound inbound;
    private final RequestSupport request;

    MailFlowPolicyResource(Inbound inbound, RequestSupport request) {
        this.inbound = inbound;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "All mail flow policies")
    public List<PolicyView> list() {
        return inbound.policies();
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Create a mail flow policy (409 when the name exists)")
    public Response create(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        PolicyView v = inbound.savePolicy(InboundJson.policy(request.body(body), null), true, request.change(comment));
        return RequestSupport.created("/api/v1/mail-flow-policies/" + v.name(), v);
    }

    @GET
    @Path("/{name}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One mail flow policy")
    public PolicyView get(@PathParam("name") String name) {
        return inbound.policy(name);
    }

    @PUT
    @Path("/{name}")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Replace a mail flow policy (409 if RELAY would make an open relay)")
    public PolicyView replace(@PathParam("name") String name, String body,
            @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        return inbound.savePolicy(InboundJson.policy(request.body(body), name), false, request.change(comment));
    }

    @DELETE
    @Path("/{name}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Delete a mail flow policy (409 while a sender group uses it)")
    public Response delete(@PathParam("name") String name, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        inbound.deletePolicy(name, request.change(comment));
        return Response.noContent().build();
    }
}
