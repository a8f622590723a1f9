package io.tlsgate.policy.inbound;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tlsgate.core.inbound.DomainTable;
import io.tlsgate.core.inbound.InboundIndex;
import io.tlsgate.core.inbound.SmtpRoute;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.policy.inbound.InboundJson.RouteView;
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
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * REST: SMTP routes, per-domain next hops used instead of the MX lookup ({@code example.com},
 * {@code .example.com}, {@code ALL} for a smart host; {@code USEDNS} last to fall back to MX).
 */
@Path("/api/v1/smtp-routes")
@Produces(MediaType.APPLICATION_JSON)
public class SmtpRouteResource {

    private final Inbound inbound;
    private final PolicyResolver resolver;
    private final RequestSupport request;

    SmtpRouteResource(Inbound inbound, PolicyResolver resolver, RequestSupport request) {
        this.inbound = inbound;
        this.resolver = resolver;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "All SMTP routes")
    public List<RouteView> list() {
        return inbound.routes();
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Create a route: {\"domain\": \"example.com\", \"hops\": [\"mail.internal:25\", \"USEDNS\"]}")
    public Response create(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        RouteView v = inbound.saveRoute(InboundJson.route(request.body(body), null), true, request.change(comment));
        return RequestSupport.created("/api/v1/smtp-routes/" + v.domain(), v);
    }

    @GET
    @Path("/{domain}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One route")
    public RouteView get(@PathParam("domain") String domain) {
        return inbound.route(key(domain));
    }

    @PUT
    @Path("/{domain}")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Replace a route's hops")
    public RouteView replace(@PathParam("domain") String domain, String body,
            @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        return inbound.saveRoute(InboundJson.route(request.body(body), key(domain)), false, request.change(comment));
    }

    @DELETE
    @Path("/{domain}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Delete a route")
    public Response delete(@PathParam("domain") String domain, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        inbound.deleteRoute(key(domain), request.change(comment));
        return Response.noContent().build();
    }

    @GET
    @Path("/resolve")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "The next hops for a recipient domain, or MX lookup when no route applies")
    public ObjectNode resolve(@QueryParam("domain") String domain) {
        String d = InboundJson.domainParam(domain);
        InboundIndex.RouteDecision r = resolver.inbound().route(d);
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.put("domain", d);
        out.put("matchedKey", r.matchedKey());
        out.putPOJO("hops", r.hops().stream().map(SmtpRoute.Hop::toString).toList());
        out.put("useDns", r.useDns());
        out.put("version", resolver.version());
        return out;
    }

    private static String key(String raw) {
        try {
            return DomainTable.parseKey(raw, true).text();
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.field("domain", e.getMessage());
        }
    }
}
