package io.tlsgate.policy.bounce;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.json.JsonFields;
import io.tlsgate.policy.web.RequestSupport;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Set;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: bounce profiles (docs/delivery.md). Every field is required on create and replace. */
@Path("/api/v1/bounce-profiles")
@Produces(MediaType.APPLICATION_JSON)
public class BounceProfileResource {

    private static final Set<String> FIELDS = Set.of("name", "maxRetries", "maxTimeInQueueSeconds",
            "initialRetrySeconds", "maxRetrySeconds", "sendHardBounces", "sendDelayWarnings",
            "delayWarningIntervalSeconds", "maxDelayWarnings");

    private final BounceProfiles profiles;
    private final RequestSupport request;

    BounceProfileResource(BounceProfiles profiles, RequestSupport request) {
        this.profiles = profiles;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "All bounce profiles")
    public List<BounceProfile> list() {
        return profiles.all();
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Create a bounce profile (409 when the name exists)")
    public Response create(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        BounceProfile p = profiles.create(parse(request.body(body), null), request.change(comment));
        return RequestSupport.created("/api/v1/bounce-profiles/" + p.name(), p);
    }

    @GET
    @Path("/{name}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One bounce profile")
    public BounceProfile get(@PathParam("name") String name) {
        return profiles.get(name);
    }

    @PUT
    @Path("/{name}")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Replace a bounce profile's settings")
    public BounceProfile replace(@PathParam("name") String name, String body,
            @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        return profiles.replace(parse(request.body(body), name), request.change(comment));
    }

    @DELETE
    @Path("/{name}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Delete a bounce profile (409 for default or one in use)")
    public Response delete(@PathParam("name") String name, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        profiles.delete(name, request.change(comment));
        return Response.noContent().build();
    }

    /**
     * Every field required but the delay warnings' interval and count (default 14400 s and 1);
     * {@code pathName} (replace) must match a name given in the body. */
    private static BounceProfile parse(JsonNode body, String pathName) {
        JsonFields f = JsonFields.of(body, FIELDS);
        String name = f.string("name", DestinationSettings.PROFILE_NAME, "1 to 64 letters, digits, '.', '_' or '-'");
        if (pathName != null) {
            if (name != null && !name.equals(pathName)) {
                f.error("name", "does not match the name in the path");
            }
            name = pathName;
        }
        Integer retries = f.integer("maxRetries", 0, BounceProfile.MAX_RETRIES);
        Integer queue = f.integer("maxTimeInQueueSeconds", BounceProfile.MIN_QUEUE_SECONDS, BounceProfile.MAX_QUEUE_SECONDS);
        Integer initial = f.integer("initialRetrySeconds", BounceProfile.MIN_RETRY_SECONDS, BounceProfile.MAX_RETRY_SECONDS);
        Integer max = f.integer("maxRetrySeconds", BounceProfile.MIN_RETRY_SECONDS, BounceProfile.MAX_RETRY_SECONDS);
        Boolean hard = f.bool("sendHardBounces");
        Boolean delay = f.bool("sendDelayWarnings");
        Integer interval = f.integer("delayWarningIntervalSeconds", 1, BounceProfile.MAX_DELAY_WARNING_INTERVAL);
        Integer warnings = f.integer("maxDelayWarnings", 1, BounceProfile.MAX_DELAY_WARNINGS);
        String[] names = {"name", "maxRetries", "maxTimeInQueueSeconds", "initialRetrySeconds", "maxRetrySeconds",
            "sendHardBounces", "sendDelayWarnings"};
        Object[] values = {name, retries, queue, initial, max, hard, delay};
        for (int i = 0; i < names.length; i++) {
            if (values[i] == null && body != null && body.isObject() && !body.has(names[i])) {
                f.error(names[i], "required");
            }
        }
        if (initial != null && max != null && max < initial) {
            f.error("maxRetrySeconds", "must not be less than initialRetrySeconds");
        }
        f.check();
        return new BounceProfile(name, retries, queue, initial, max, hard, delay,
                interval == null ? BounceProfile.DEFAULT_DELAY_WARNING_INTERVAL : interval, warnings == null ? 1 : warnings);
    }
}
