package io.tlsgate.policy.inbound;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.inbound.InboundIndex;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.json.JsonFields;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.policy.inbound.InboundJson.ListenerView;
import io.tlsgate.policy.inbound.InboundJson.PolicyView;
import io.tlsgate.policy.resolve.PolicyResolver;
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
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Set;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: listeners, their host access tables, and "which sender group does this client get?". */
@Path("/api/v1/listeners")
@Produces(MediaType.APPLICATION_JSON)
public class ListenerResource {

    private final Inbound inbound;
    private final PolicyResolver resolver;
    private final RequestSupport request;

    ListenerResource(Inbound inbound, PolicyResolver resolver, RequestSupport request) {
        this.inbound = inbound;
        this.resolver = resolver;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "All listeners with their host access tables")
    public List<ListenerView> list() {
        return inbound.listeners();
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Create a listener (409 when the name exists or the address and port are taken); its HAT starts empty")
    public Response create(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        ListenerView v = inbound.saveListener(InboundJson.listener(request.body(body), null), true, request.change(comment));
        return RequestSupport.created("/api/v1/listeners/" + v.name(), v);
    }

    @GET
    @Path("/{name}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One listener")
    public ListenerView get(@PathParam("name") String name) {
        return inbound.listener(name);
    }

    @PUT
    @Path("/{name}")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Replace a listener's settings (absent optional fields take their defaults)")
    public ListenerView replace(@PathParam("name") String name, String body,
            @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        return inbound.saveListener(InboundJson.listener(request.body(body), name), false, request.change(comment));
    }

    @DELETE
    @Path("/{name}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Delete a listener and its host access table")
    public Response delete(@PathParam("name") String name, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        inbound.deleteListener(name, request.change(comment));
        return Response.noContent().build();
    }

    @GET
    @Path("/{name}/hat")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "The host access table: sender groups in match order, the catch-all ALL last")
    public ObjectNode hat(@PathParam("name") String name) {
        return hatJson(inbound.hat(name));
    }

    @PUT
    @Path("/{name}/hat")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Replace the host access table: {\"hostAccessTable\": [group, ...]} (ALL is always last)")
    public ObjectNode replaceHat(@PathParam("name") String name, String body,
            @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        JsonNode json = request.body(body);
        if (json.isArray()) {
            ObjectNode wrapped = JsonNodeFactory.instance.objectNode();
            wrapped.set("hostAccessTable", json);
            json = wrapped;
        }
        JsonFields f = JsonFields.of(json, Set.of("hostAccessTable"));
        List<String> groups = f.list("hostAccessTable", 1000, s -> s);
        f.require("hostAccessTable");
        f.check();
        return hatJson(inbound.saveHat(name, groups, request.change(comment)));
    }

    @GET
    @Path("/{name}/resolve")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Which sender group and mail flow policy a client gets on this listener, and why")
    public ObjectNode resolve(@PathParam("name") String name, @QueryParam("ip") String ip, @QueryParam("host") String host,
            @QueryParam("hostVerified") String hostVerified) {
        if (ip == null || ip.isBlank()) {
            throw InvalidRequestException.field("ip", "required: the client's IP address");
        }
        byte[] address = PolicyResolver.address(ip);
        if (address == null) {
            throw InvalidRequestException.field("ip", "'" + ip + "' is not an IP address");
        }
        boolean verified = true;
        if (hostVerified != null) {
            if (!hostVerified.equals("true") && !hostVerified.equals("false")) {
                throw InvalidRequestException.field("hostVerified", "must be true or false");
            }
            verified = Boolean.parseBoolean(hostVerified);
        }
        InboundIndex ix = resolver.inbound();
        InboundIndex.HatDecision d = ix.resolve(name, address, host, verified)
                .orElseThrow(() -> ProblemException.notFound("no listener named '" + name + "'"));
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.put("listener", name);
        out.put("ip", DestinationKey.format(address));
        if (host != null) {
            out.put("host", host);
            out.put("hostVerified", verified);
        }
        out.put("senderGroup", d.senderGroup());
        out.put("matchedBy", d.matchedBy());
        out.put("position", d.position());
        out.put("reason", d.position() == 0 ? "no sender group of the host access table matched; catch-all ALL applies"
                : "'" + d.matchedBy() + "' of sender group " + d.senderGroup() + " (host access table position "
                        + d.position() + ") is the first match");
        out.putPOJO("policy", PolicyView.of(d.policy()));
        out.put("version", resolver.version());
        return out;
    }

    private static ObjectNode hatJson(List<String> hat) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.putPOJO("hostAccessTable", hat);
        return out;
    }
}
