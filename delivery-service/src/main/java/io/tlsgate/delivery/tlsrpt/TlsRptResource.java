package io.tlsgate.delivery.tlsrpt;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.smallrye.common.annotation.Blocking;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.problem.InvalidRequestException;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: TLSRPT reports (RFC 8460) as they are or would be sent, and sending a day's now. */
@Path("/api/v1/tlsrpt")
@Produces(MediaType.APPLICATION_JSON)
@Blocking
public class TlsRptResource {

    private final TlsReports reports;

    TlsRptResource(TlsReports reports) {
        this.reports = reports;
    }

    @GET
    @Path("/report")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "The aggregate TLS report of one destination domain for one day (UTC), built now; nothing is sent")
    public ObjectNode report(@QueryParam("domain") String domain, @QueryParam("day") String day) {
        boolean isDomain;
        try {
            isDomain = domain != null && !DestinationKey.parse(domain).isNetwork() && !domain.startsWith(".");
        } catch (IllegalArgumentException e) {
            isDomain = false;
        }
        if (!isDomain) {
            throw InvalidRequestException.field("domain", "a destination domain is required");
        }
        return reports.report(domain.toLowerCase(java.util.Locale.ROOT), day(day));
    }

    @POST
    @Path("/send")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Sends the reports of one day (UTC) that were not sent yet, to the domains that publish a TLSRPT record")
    public List<TlsReports.Sent> send(@QueryParam("day") String day) {
        return reports.send(day(day));
    }

    private static LocalDate day(String day) {
        if (day == null) {
            throw InvalidRequestException.field("day", "required, as YYYY-MM-DD");
        }
        try {
            return LocalDate.parse(day);
        } catch (DateTimeParseException e) {
            throw InvalidRequestException.field("day", "'" + day + "' is not a date (YYYY-MM-DD)");
        }
    }
}
