package io.tlsgate.policy.inbound;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tlsgate.core.inbound.InboundIndex;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.json.JsonFields;
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

/**
 * REST: the recipient access table, the domains this gateway accepts mail for
 * ({@code example.com} exactly, {@code .example.com} its subdomains). Empty on a fresh install.
 */
@Path("/api/v1/rat")
@Produces(MediaType.APPLICATION_JSON)
public class RecipientAccessResource {

    private final Inbound inbound;
    private final PolicyResolver resolver;
    private final RequestSupport request;

    RecipientAccessResource(Inbound inbound, PolicyResolver resolver, RequestSupport request) {
        this.inbound = inbound;
        this.resolver = resolver;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "The accepted domains: {\"domains\": [...]}")
    public ObjectNode list() {
        return domains(inbound.rat());
    }

    @PUT
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Replace the whole table: {\"domains\": [...]}")
    public ObjectNode replace(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        return domains(inbound.replaceRat(InboundJson.ratList(request.listBody(body)), request.change(comment)));
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Add one domain: {\"domain\": \"example.com\"} (409 when it is there)")
    public Response add(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        JsonFields f = JsonFields.of(request.body(body), Set.of("domain"));
        String raw = f.string("domain", java.util.regex.Pattern.compile(".{1,254}"), "a domain or .domain");
        f.require("domain");
        f.check();
        String domain = inbound.addRat(InboundJson.ratKey(raw, "domain"), request.change(comment));
        return RequestSupport.created("/api/v1/rat/" + domain, new InboundJson.RatEntry(domain));
    }

    @DELETE
    @Path("/{domain}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Remove one domain")
    public Response delete(@PathParam("domain") String domain, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        inbound.deleteRat(InboundJson.ratKey(domain, "domain"), request.change(comment));
        return Response.noContent().build();
    }

    @GET
    @Path("/resolve")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Whether mail for a recipient domain is accepted from non-relaying clients, and which entry says so")
    public ObjectNode resolve(@QueryParam("domain") String domain) {
        String d = InboundJson.domainParam(domain);
        InboundIndex.RecipientDecision r = resolver.inbound().acceptsRecipient(d);
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.put("domain", d);
        out.put("accepted", r.accepted());
        out.put("matchedKey", r.matchedKey());
        out.put("version", resolver.version());
        return out;
    }

    private static ObjectNode domains(List<String> domains) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.putPOJO("domains", domains);
        return out;
    }
}
