package io.tlsgate.delivery.actions;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.security.identity.SecurityIdentity;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.json.JsonFields;
import io.tlsgate.platform.problem.Params;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.net.IDN;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * REST: queue actions (operator) and their audit records (reader). {@code POST
 * /api/v1/queue/actions} with {@code action} (retry, delete, bounce, redirect) and either
 * {@code mid} (optionally {@code rids}) or {@code domain}; {@code dsn} for delete, {@code host}
 * for redirect, an optional {@code comment}.
 */
@Path("/api/v1/queue/actions")
@Produces(MediaType.APPLICATION_JSON)
public class QueueActionResource {

    private static final Set<String> FIELDS = Set.of("action", "mid", "rids", "domain", "dsn", "host", "comment");
    private static final Pattern DOMAIN = Pattern.compile("([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
    private static final Pattern HOST = Pattern.compile("(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+)(:(\\d{1,5}))?");

    private final QueueActions actions;
    private final ObjectMapper json;
    private final SecurityIdentity identity;

    QueueActionResource(QueueActions actions, ObjectMapper json, SecurityIdentity identity) {
        this.actions = actions;
        this.json = json;
        this.identity = identity;
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Retry now, delete (dsn: tell the sender), bounce or redirect (host) the queued recipients of one "
            + "message (mid, optionally rids) or of a domain; audited")
    public QueueActions.Result act(String body) {
        JsonFields f = JsonFields.of(JsonFields.readBody(json, body, 65_536), FIELDS);
        JsonNode n = json.nullNode();
        try {
            n = json.readTree(body);
        } catch (Exception e) {
            // readBody reported it
        }
        QueueActions.Action action = null;
        if (n.hasNonNull("action")) {
            try {
                action = QueueActions.Action.valueOf(n.get("action").asText().trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                f.error("action", "one of retry, delete, bounce, redirect");
            }
        }
        f.require("action");
        Long mid = null;
        if (n.has("mid")) {
            JsonNode m = n.get("mid");
            if (!m.canConvertToLong() || !m.isIntegralNumber() || m.asLong() < 1) {
                f.error("mid", "a message ID (a whole number from 1)");
            } else {
                mid = m.asLong();
            }
        }
        List<Integer> rids = null;
        if (n.has("rids")) {
            JsonNode r = n.get("rids");
            if (!r.isArray() || r.size() == 0 || r.size() > 10_000) {
                f.error("rids", "a list of 1 to 10000 recipient indexes (RID)");
            } else {
                List<Integer> list = new java.util.ArrayList<>();
                for (JsonNode x : r) {
                    if (!x.isIntegralNumber() || !x.canConvertToInt() || x.asInt() < 0) {
                        f.error("rids", "each RID is a whole number from 0");
                        list = null;
                        break;
                    }
                    list.add(x.asInt());
                }
                rids = list;
            }
        }
        String domain = null;
        if (n.has("domain")) {
            String d = n.get("domain").asText("").trim().toLowerCase(Locale.ROOT);
            try {
                d = IDN.toASCII(d.endsWith(".") ? d.substring(0, d.length() - 1) : d, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
            } catch (IllegalArgumentException e) {
                d = "";
            }
            if (!n.get("domain").isTextual() || d.length() > 253 || !(DOMAIN.matcher(d).matches() || d.matches("\\[[0-9a-f:.]+\\]"))) {
                f.error("domain", "a recipient domain such as example.com");
            } else {
                domain = d;
            }
        }
        if (n.has("mid") == n.has("domain")) {
            f.error(n.has("mid") ? "domain" : "mid", "give either mid (and optionally rids) or domain");
        }
        if (n.has("rids") && !n.has("mid")) {
            f.error("rids", "only with mid");
        }
        Boolean dsn = f.bool("dsn");
        if (dsn != null && action != QueueActions.Action.DELETE) {
            f.error("dsn", "only for delete (bounce always sends one)");
        }
        String host = null;
        if (n.has("host")) {
            host = n.get("host").asText("").trim();
            var m = HOST.matcher(host);
            if (!n.get("host").isTextual() || host.length() > 260 || !m.matches()
                    || (m.group(3) != null && (Integer.parseInt(m.group(3)) < 1 || Integer.parseInt(m.group(3)) > 65535))) {
                f.error("host", "host, host:port, [address] or [address]:port");
                host = null;
            } else if (action != QueueActions.Action.REDIRECT) {
                f.error("host", "only for redirect");
            }
        } else if (action == QueueActions.Action.REDIRECT) {
            f.error("host", "required for redirect: where to deliver instead");
        }
        String comment = null;
        if (n.has("comment")) {
            comment = n.get("comment").asText("").strip();
            if (!n.get("comment").isTextual() || comment.length() > 500 || comment.chars().anyMatch(Character::isISOControl)) {
                f.error("comment", "a text of at most 500 characters, on one line (it goes into the mail log)");
            }
        }
        f.check();
        return actions.apply(new QueueActions.Request(action, new QueueActions.Selector(mid, rids, domain), dsn != null && dsn,
                host, comment == null || comment.isEmpty() ? null : comment, identity.getPrincipal().getName()));
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Queue actions taken, newest first (limit 1-1000, default 100; before: an id, for the next page)")
    public List<QueueActions.Entry> history(@QueryParam("limit") String limit, @QueryParam("before") String before) {
        int n = Params.longParam("limit", limit, 100L, 1, 1000).intValue();
        Long b = Params.longParam("before", before, null, 1, Long.MAX_VALUE);
        return actions.history(n, b);
    }
}
