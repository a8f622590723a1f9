package io.tlsgate.delivery.check;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.smallrye.common.annotation.Blocking;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.problem.Problem;
import io.tlsgate.platform.problem.ProblemException;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.Sse;
import jakarta.ws.rs.sse.SseEventSink;
import java.util.LinkedHashMap;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * REST: the TLS check of a destination domain or address. {@code Accept: application/json}
 * answers the report when the check is over; {@code Accept: text/event-stream} streams a
 * {@code progress} event per step as hosts are probed, then one {@code result} event with the
 * report (or an {@code error} event with a problem). Operators only: it makes outbound
 * connections. Rate limited per destination ({@link CheckLimiter}).
 */
@Path("/api/v1/tls-check")
@Consumes(MediaType.APPLICATION_JSON)
@Blocking
public class TlsCheckResource {

    private final TlsCheck check;
    private final ObjectMapper json;

    TlsCheckResource(TlsCheck check, ObjectMapper json) {
        this.check = check;
        this.json = json;
    }

    @POST
    @Produces(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Checks how a delivery to a domain or address would go over TLS, host by host, without sending a message")
    public TlsCheckReport check(TlsCheck.Request request) {
        TlsCheck.Checked c = check.validate(request);
        try (CheckLimiter.Permit ignored = check.admit(c)) {
            return check.run(c, (host, step, ms, detail) -> { });
        }
    }

    @POST
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "The TLS check with its progress as server-sent events: progress per step, then the result")
    public void stream(TlsCheck.Request request, @Context SseEventSink sink, @Context Sse sse) {
        TlsCheck.Checked c = check.validate(request);
        try (CheckLimiter.Permit ignored = check.admit(c); sink) {
            try {
                TlsCheckReport report = check.run(c, (host, step, ms, detail) -> {
                    Map<String, Object> p = new LinkedHashMap<>();
                    p.put("host", host);
                    p.put("step", step);
                    p.put("ms", ms);
                    p.put("detail", detail);
                    send(sink, sse, "progress", p);
                });
                send(sink, sse, "result", report);
            } catch (ProblemException e) {
                send(sink, sse, "error", Problem.of(jakarta.ws.rs.core.Response.Status.fromStatusCode(e.status()), e.getMessage()));
            }
        }
    }

    /** One event, its data a single line of JSON; a client that went away ends nothing but its own stream. */
    private void send(SseEventSink sink, Sse sse, String name, Object data) {
        if (sink.isClosed()) {
            return;
        }
        try {
            sink.send(sse.newEventBuilder().name(name).data(json.writeValueAsString(data)).build());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
