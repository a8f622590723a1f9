package io.tlsgate.policy.sts;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.core.dns.DomainName;
import io.tlsgate.core.sts.MtaStsPolicy;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.json.JsonFields;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.policy.web.RequestSupport;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Set;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * REST: the MTA-STS policies published for our own domains (docs/inbound-policy.md, "Publishing
 * MTA-STS"). Each answer says which TXT record and which host name the domain's DNS needs.
 */
@Path("/api/v1/mta-sts/policies")
@Produces(MediaType.APPLICATION_JSON)
public class HostedPolicyResource {

    /** What a PUT may set; the View's other fields may be sent back (what GET returns, PUT accepts) and are ignored. */
    private static final Set<String> FIELDS = Set.of("domain", "mode", "mx", "maxAgeSeconds", "policyId", "txtRecord", "txtName",
            "policyUrl", "updatedAt");

    /** The response: the policy plus what to publish in DNS. */
    public record View(String domain, String mode, List<String> mx, long maxAgeSeconds, String policyId, String txtRecord,
            String txtName, String policyUrl, java.time.Instant updatedAt) {

        static View of(HostedPolicy p) {
            return new View(p.domain(), p.mode(), p.mx(), p.maxAgeSeconds(), p.policyId(), p.txtRecord(), "_mta-sts." + p.domain(),
                    p.policyUrl(), p.updatedAt());
        }
    }

    private final HostedPolicies policies;
    private final RequestSupport request;

    HostedPolicyResource(HostedPolicies policies, RequestSupport request) {
        this.policies = policies;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Every MTA-STS policy published for our own domains")
    public List<View> list() {
        return policies.all().stream().map(View::of).toList();
    }

    @GET
    @Path("/{domain}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One domain's published MTA-STS policy, with the TXT record to publish")
    public View get(@PathParam("domain") String domain) {
        String d = domain(domain);
        return policies.find(d).map(View::of)
                .orElseThrow(() -> ProblemException.notFound("no MTA-STS policy for '" + d + "'"));
    }

    @PUT
    @Path("/{domain}")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Publish or replace a domain's MTA-STS policy (a new policy id: update the TXT record)")
    public View put(@PathParam("domain") String domain, String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        String d = domain(domain);
        JsonNode json = request.body(body);
        JsonFields f = JsonFields.of(json, FIELDS);
        f.require("mode", "mx", "maxAgeSeconds");
        String mode = f.string("mode", java.util.regex.Pattern.compile("enforce|testing|none"), "enforce, testing or none");
        List<String> mx = f.list("mx", 100, s -> s);
        Integer maxAge = f.integer("maxAgeSeconds", 0, (int) MtaStsPolicy.MAX_AGE_LIMIT);
        if (f.has("domain") && (!json.get("domain").isTextual() || !json.get("domain").asText().equalsIgnoreCase(d))) {
            f.error("domain", "must be the domain in the path, as a string");
        }
        if (mx != null) {
            for (int i = 0; i < mx.size(); i++) {
                if (mx.get(i).length() > 253) {
                    f.error("mx[" + i + "]", "longer than a host name may be (253)");
                }
            }
        }
        MtaStsPolicy policy = null;
        if (mx != null && maxAge != null) {
            try {
                // With a bad mode, the other fields are still checked (as testing, which needs an mx too).
                MtaStsPolicy.Mode m = mode == null ? MtaStsPolicy.Mode.TESTING
                        : MtaStsPolicy.Mode.valueOf(mode.toUpperCase(java.util.Locale.ROOT));
                policy = MtaStsPolicy.of(m, mx, maxAge);
            } catch (MtaStsPolicy.Invalid e) {
                String msg = e.getMessage();
                f.error(msg.startsWith("mx") ? "mx" : "maxAgeSeconds", msg.substring(msg.indexOf(':') + 2));
            }
        }
        f.check();
        return View.of(policies.put(d, policy, request.change(comment)));
    }

    @DELETE
    @Path("/{domain}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Stop publishing a domain's MTA-STS policy (publish mode none first: senders cache policies for max_age)")
    public Response delete(@PathParam("domain") String domain, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        policies.delete(domain(domain), request.change(comment));
        return Response.noContent().build();
    }

    private static String domain(String raw) {
        try {
            String d = DomainName.normalise(raw);
            if (d.indexOf('.') < 0) {
                throw new IllegalArgumentException("needs at least two labels");
            }
            return d;
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.field("domain", "not a domain name: " + e.getMessage());
        }
    }
}
