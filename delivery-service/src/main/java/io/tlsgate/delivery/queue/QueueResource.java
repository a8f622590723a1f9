package io.tlsgate.delivery.queue;

import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.db.Jdbc;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: the queue at a glance. */
@Path("/api/v1/queue")
@Produces(MediaType.APPLICATION_JSON)
public class QueueResource {

    /** Recipients per state, and the queued ones per destination domain (most first, at most 100). */
    public record Summary(Map<String, Long> messagesByState, Map<String, Long> recipientsByState,
            List<Destination> queuedByDestination) {}

    /** Queued recipients of one domain, and when the next of them is due. */
    public record Destination(String domain, long recipients, java.time.Instant nextAttemptAt) {}

    private final DataSource dataSource;

    QueueResource(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Counts by state, and queued recipients by destination domain")
    public Summary summary() {
        return Jdbc.transaction(dataSource, c -> {
            Map<String, Long> messages = counts(c, "select state, count(*) from message group by state order by state");
            Map<String, Long> recipients = counts(c, "select state, count(*) from recipient group by state order by state");
            List<Destination> byDomain = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("select domain, count(*), min(next_attempt_at) from recipient "
                    + "where state = 'QUEUED' group by domain order by count(*) desc, domain limit 100");
                    ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    byDomain.add(new Destination(r.getString(1), r.getLong(2), r.getTimestamp(3).toInstant()));
                }
            }
            return new Summary(messages, recipients, byDomain);
        });
    }

    private static Map<String, Long> counts(java.sql.Connection c, String sql) throws java.sql.SQLException {
        Map<String, Long> out = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement(sql); ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                out.put(r.getString(1), r.getLong(2));
            }
        }
        return out;
    }
}
