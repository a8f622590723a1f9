package io.tlsgate.policy.sts;

import io.vertx.core.http.HttpServerRequest;
import jakarta.annotation.security.PermitAll;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.Response;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Serves our own domains' MTA-STS policies (RFC 8461 §3.3) to any sender, without a token: GET
 * {@code /.well-known/mta-sts.txt} for host {@code mta-sts.<domain>} (the HTTP/1.1 Host header or
 * HTTP/2's :authority) answers that domain's policy as {@code text/plain}; any other host, or a
 * domain without a policy, gets 404. The published policies are read from the database at most
 * once every {@link #REFRESH_MS} ms whatever the traffic (anyone on the internet may ask), so a
 * change is served by every replica within that time.
 */
@Path("/.well-known/mta-sts.txt")
@PermitAll
public class WellKnownResource {

    static final long REFRESH_MS = 5_000;
    private static final String PREFIX = "mta-sts.";

    private record Snapshot(long at, Map<String, HostedPolicy> byDomain) {}

    private final HostedPolicies policies;
    private volatile Snapshot snapshot;

    WellKnownResource(HostedPolicies policies) {
        this.policies = policies;
    }

    @GET
    public Response policy(@Context HttpServerRequest request) {
        String h = request.authority() != null ? request.authority().host() : request.getHeader("Host");
        h = h == null ? "" : h.toLowerCase(Locale.ROOT).replaceFirst(":\\d+$", "");
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        if (!h.startsWith(PREFIX) || h.length() == PREFIX.length()) {
            return notFound();
        }
        HostedPolicy p = published().get(h.substring(PREFIX.length()));
        if (p == null) {
            return notFound();
        }
        // A sender may keep it for max_age anyway; proxies should not serve an old one.
        return Response.ok(p.policy().text(), "text/plain; charset=utf-8").header("Cache-Control", "no-cache").build();
    }

    private Map<String, HostedPolicy> published() {
        Snapshot s = snapshot;
        long now = System.nanoTime() / 1_000_000;
        if (s != null && now - s.at() < REFRESH_MS) {
            return s.byDomain();
        }
        synchronized (this) {
            if (snapshot == null || now - snapshot.at() >= REFRESH_MS) {
                snapshot = new Snapshot(now, policies.all().stream()
                        .collect(Collectors.toUnmodifiableMap(HostedPolicy::domain, Function.identity())));
            }
            return snapshot.byDomain();
        }
    }

    private static Response notFound() {
        return Response.status(404).type("text/plain; charset=utf-8").entity("no MTA-STS policy here\n").build();
    }
}
