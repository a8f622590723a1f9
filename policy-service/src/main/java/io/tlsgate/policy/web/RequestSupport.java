package io.tlsgate.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.security.identity.SecurityIdentity;
import io.tlsgate.platform.json.JsonFields;
import io.tlsgate.platform.problem.InvalidRequestException;
import jakarta.enterprise.context.RequestScoped;

/** What REST resources need from a request: the bounded JSON body and who is changing what. */
@RequestScoped
public class RequestSupport {

    /** Optional header carrying the operator's comment for the audit log. */
    public static final String COMMENT_HEADER = "X-Change-Comment";

    private final SecurityIdentity identity;
    private final ObjectMapper json;

    RequestSupport(SecurityIdentity identity, ObjectMapper json) {
        this.identity = identity;
        this.json = json;
    }

    /** The body as JSON; 400 naming {@code body} when it is empty, too large or not JSON. */
    public JsonNode json(String body, int maxBytes) {
        return JsonFields.readBody(json, body, maxBytes);
    }

    /** The change's author and comment; 400 naming the header when the comment is too long. */
    public ChangeContext change(String comment) {
        if (comment != null && comment.length() > ChangeContext.MAX_COMMENT) {
            throw InvalidRequestException.field(COMMENT_HEADER, "longer than " + ChangeContext.MAX_COMMENT + " characters");
        }
        return new ChangeContext(identity.getPrincipal().getName(), comment == null || comment.isBlank() ? null : comment.strip());
    }
}
