package io.tlsgate.platform.problem;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.UnauthorizedException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * Every REST error as {@code application/problem+json}; no stack trace leaves a service. An
 * unexpected exception is logged with an id that the response repeats, so an operator can
 * find it.
 */
public class ProblemMappers {

    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);
    private static final String CHALLENGE = "Bearer realm=\"tlsgate\"";

    @ServerExceptionMapper({UnauthorizedException.class, AuthenticationFailedException.class})
    public Response unauthorized(RuntimeException e) {
        return Response.fromResponse(Problem.of(Response.Status.UNAUTHORIZED,
                        "a valid 'Authorization: Bearer <token>' header is required").toResponse())
                .header(HttpHeaders.WWW_AUTHENTICATE, CHALLENGE)
                .build();
    }

    @ServerExceptionMapper
    public Response forbidden(ForbiddenException e) {
        return Problem.of(Response.Status.FORBIDDEN, "the token's role does not allow this operation").toResponse();
    }

    @ServerExceptionMapper
    public Response invalidRequest(InvalidRequestException e) {
        return Problem.of(Response.Status.BAD_REQUEST, "the request has invalid fields", e.errors()).toResponse();
    }

    @ServerExceptionMapper
    public Response problem(ProblemException e) {
        return Problem.of(Response.Status.fromStatusCode(e.status()) != null
                        ? Response.Status.fromStatusCode(e.status()) : Response.Status.BAD_REQUEST,
                e.getMessage(), e.errors()).toResponse();
    }

    @ServerExceptionMapper
    public Response badJson(JsonProcessingException e) {
        String field = e instanceof JsonMappingException m && !m.getPath().isEmpty()
                ? m.getPath().stream()
                        .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                        .collect(Collectors.joining(".")).replace(".[", "[")
                : "body";
        return Problem.of(Response.Status.BAD_REQUEST, "the request body is not valid JSON for this operation",
                List.of(new Problem.FieldError(field, e.getOriginalMessage()))).toResponse();
    }

    @ServerExceptionMapper
    public Response webApplication(WebApplicationException e) {
        Response r = e.getResponse();
        if (r.hasEntity() && Problem.MEDIA.isCompatible(r.getMediaType())) {
            return r;
        }
        return Problem.of(r.getStatusInfo(), e.getMessage()).toResponse();
    }

    @ServerExceptionMapper
    public Response unexpected(Exception e) {
        String id = UUID.randomUUID().toString();
        LOG.errorf(e, "unexpected error %s", id);
        return Problem.of(Response.Status.INTERNAL_SERVER_ERROR, "unexpected error; logged as " + id).toResponse();
    }
}
