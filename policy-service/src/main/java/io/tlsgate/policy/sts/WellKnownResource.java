package io.tlsgate.policy.sts;

import jakarta.annotation.security.PermitAll;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Response;
import java.util.Locale;

/**
 * Serves our own domains' MTA-STS policies (RFC 8461 §3.3) to any sender, without a token: GET
 * {@code /.well-known/mta-sts.txt} with {@code Host: mta-sts.<domain>} answers that domain's
 * policy as {@code text/plain}; any other host, or a domain without a policy, gets 404.
 */
@Path("/.well-known/mta-sts.txt")
@PermitAll
public class WellKnownResource {

    private static final String PREFIX = "mta-sts.";

    private final HostedPolicies policies;

    WellKnownResource(HostedPolicies policies) {
        this.policies = policies;
    }

    @GET
    public Response policy(@HeaderParam("Host") String host) {
        String h = host == null ? "" : host.toLowerCase(Locale.ROOT).replaceFirst(":\\d+$", "");
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        if (!h.startsWith(PREFIX) || h.length() == PREFIX.length()) {
            return notFound();
        }
        return policies.find(h.substring(PREFIX.length()))
                .map(p -> Response.ok(p.policy().text(), "text/plain; charset=utf-8")
                        // a sender may keep it for max_age anyway; proxies should not keep an old one
                        .header("Cache-Control", "no-cache").build())
                .orElseGet(WellKnownResource::notFound);
    }

    private static Response notFound() {
        return Response.status(404).type("text/plain; charset=utf-8").entity("no MTA-STS policy here\n").build();
    }
}
