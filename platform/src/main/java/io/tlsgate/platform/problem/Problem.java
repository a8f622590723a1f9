package io.tlsgate.platform.problem;

import com.fasterxml.jackson.annotation.JsonInclude;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;

/**
 * An RFC 9457 problem document. {@code errors} (an extension member) names each bad field
 * of a rejected request with the reason.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Problem(String type, String title, int status, String detail, List<FieldError> errors) {

    public static final String MEDIA_TYPE = "application/problem+json";
    public static final MediaType MEDIA = MediaType.valueOf(MEDIA_TYPE);

    /** One rejected field: a JSON path or parameter name, and why. */
    public record FieldError(String field, String message) {}

    public static Problem of(Response.StatusType status, String detail) {
        return new Problem("about:blank", status.getReasonPhrase(), status.getStatusCode(), detail, null);
    }

    public static Problem of(Response.StatusType status, String detail, List<FieldError> errors) {
        return new Problem("about:blank", status.getReasonPhrase(), status.getStatusCode(), detail,
                errors == null || errors.isEmpty() ? null : List.copyOf(errors));
    }

    /** This problem as a response with the problem media type. */
    public Response toResponse() {
        return Response.status(status).type(MEDIA).entity(this).build();
    }
}
