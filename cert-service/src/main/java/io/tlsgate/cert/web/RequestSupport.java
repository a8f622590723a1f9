package io.tlsgate.cert.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.security.identity.SecurityIdentity;
import io.tlsgate.platform.json.JsonFields;
import jakarta.enterprise.context.RequestScoped;
import jakarta.ws.rs.core.Response;
import java.net.URI;

/** What REST resources need from a request: who sends it and its bounded JSON body. */
@RequestScoped
public class RequestSupport {

    private final SecurityIdentity identity;
    private final ObjectMapper json;

    RequestSupport(SecurityIdentity identity, ObjectMapper json) {
        this.identity = identity;
        this.json = json;
    }

    /** The authenticated principal's name, recorded as the author of a change. */
    public String principal() {
        return identity.getPrincipal().getName();
    }

    /** The body as JSON; 400 naming {@code body} when it is empty, too large or not JSON. */
    public JsonNode json(String body, int maxBytes) {
        return JsonFields.readBody(json, body, maxBytes);
    }

    /** An empty JSON object, for checking fields that do not come in a JSON body. */
    public JsonNode emptyObject() {
        return json.createObjectNode();
    }

    /** 201 with the new resource's location and its representation. */
    public static Response created(String location, Object entity) {
        return Response.created(URI.create(location)).entity(entity).build();
    }
}
