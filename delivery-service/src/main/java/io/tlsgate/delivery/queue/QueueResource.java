package io.tlsgate.delivery.queue;

import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.Params;
import io.tlsgate.platform.problem.Problem;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: the queue at a glance, and its recipients by state, domain, age and last error, a page at a time. */
@Path("/api/v1/queue")
@Produces(MediaType.APPLICATION_JSON)
public class QueueResource {

    private static final Set<String> STATES = Set.of("QUEUED", "DELIVERED", "BOUNCED", "DELETED", "ANY");

    private final MessageQueue queue;

    QueueResource(MessageQueue queue) {
        this.queue = queue;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Counts by state, queued recipients by destination domain, and a page of recipients: "
            + "state (default QUEUED, or ANY), domain, olderThan (ISO-8601 duration such as PT1H), lastError (text in the "
            + "last reply), limit (1-1000, default 100), after (the previous page's next)")
    public QueueSummary summary(@QueryParam("state") String state, @QueryParam("domain") String domain,
            @QueryParam("olderThan") String olderThan, @QueryParam("lastError") String lastError,
            @QueryParam("limit") String limit, @QueryParam("after") String after) {
        List<Problem.FieldError> errors = new ArrayList<>();
        String st = state == null || state.isBlank() ? "QUEUED" : state.trim().toUpperCase(Locale.ROOT);
        if (!STATES.contains(st)) {
            errors.add(new Problem.FieldError("state", "one of QUEUED, DELIVERED, BOUNCED, DELETED, ANY"));
        }
        String d = domain == null || domain.isBlank() ? null : domain.trim().toLowerCase(Locale.ROOT);
        if (d != null && (d.length() > 253 || !d.matches("[a-z0-9._\\[\\]:-]+"))) {
            errors.add(new Problem.FieldError("domain", "'" + domain + "' is not a domain"));
        }
        Duration age = null;
        if (olderThan != null && !olderThan.isBlank()) {
            try {
                age = Duration.parse(olderThan.trim());
                if (age.isNegative() || age.compareTo(Duration.ofDays(3650)) > 0) {
                    errors.add(new Problem.FieldError("olderThan", "from PT0S to P3650D"));
                    age = null;
                }
            } catch (DateTimeParseException | ArithmeticException e) {
                errors.add(new Problem.FieldError("olderThan", "an ISO-8601 duration such as PT30M, PT6H or P2D"));
            }
        }
        if (lastError != null && lastError.length() > 200) {
            errors.add(new Problem.FieldError("lastError", "at most 200 characters"));
        }
        Long afterMid = null;
        Integer afterRid = null;
        if (after != null && !after.isBlank()) {
            String[] p = after.trim().split(":", 2);
            try {
                afterMid = Long.parseLong(p[0]);
                afterRid = p.length > 1 ? Integer.parseInt(p[1]) : null;
            } catch (NumberFormatException e) {
                errors.add(new Problem.FieldError("after", "the 'next' value of the previous page, such as 1234:0"));
            }
        }
        int n;
        try {
            n = Params.longParam("limit", limit, 100L, 1, 1000).intValue();
        } catch (InvalidRequestException e) {
            errors.addAll(e.errors());
            n = 100;
        }
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
        return queue.summary(new QueueSummary.Filter(st.equals("ANY") ? null : st, d, age,
                lastError == null || lastError.isBlank() ? null : lastError, afterMid, afterRid, n));
    }
}
