package io.tlsgate.policy.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.security.identity.SecurityIdentity;
import io.tlsgate.platform.json.JsonFields;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.policy.PolicyConfig;
import jakarta.enterprise.context.RequestScoped;
import jakarta.ws.rs.core.Response;
import java.net.URI;

/**
 * What REST resources need from a request: the bounded JSON body and who is changing what.
 * Rejections are {@link InvalidRequestException}s, answered as problem+json naming the field.
 */
@RequestScoped
public class RequestSupport {

    /** Optional header carrying the operator's comment for the audit log. */
    public static final String COMMENT_HEADER = "X-Change-Comment";

    private final SecurityIdentity identity;
    private final ObjectMapper json;
    private final PolicyConfig config;

    RequestSupport(SecurityIdentity identity, ObjectMapper json, PolicyConfig config) {
        this.identity = identity;
        this.json = json;
        this.config = config;
    }

    /**
     * The body as JSON, at most {@code tlsgate.policy.max-json-body} bytes; 400 naming
     * {@code body} when it is empty, too large or not JSON.
     */
    public JsonNode body(String body) {
        return JsonFields.readBody(json, body, config.maxJsonBody());
    }

    /** As {@link #body}, for a body that carries a list: at most {@code tlsgate.policy.max-list-body} bytes. */
    public JsonNode listBody(String body) {
        return JsonFields.readBody(json, body, config.maxListBody());
    }

    /** The change's author and comment; 400 naming the header when the comment is too long. */
    public ChangeContext change(String comment) {
        if (comment != null && comment.length() > ChangeContext.MAX_COMMENT) {
            throw InvalidRequestException.field(COMMENT_HEADER, "longer than " + ChangeContext.MAX_COMMENT + " characters");
        }
        return new ChangeContext(identity.getPrincipal().getName(), comment == null || comment.isBlank() ? null : comment.strip());
    }

    /** 201 with the new resource's location and its representation. */
    public static Response created(String location, Object entity) {
        return Response.created(URI.create(location)).entity(entity).build();
    }
}
