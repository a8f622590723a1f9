package io.tlsgate.policy.destination;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.core.dns.DomainName;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.Problem.FieldError;
import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.policy.PolicyConfig;
import io.tlsgate.policy.resolve.PolicyResolver;
import io.tlsgate.policy.settings.OutboundCertificateCheck;
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
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * REST: destination controls (docs/destination-controls.md). Reads need {@code reader}, changes
 * {@code operator}; a change may carry a comment for the audit log in {@code X-Change-Comment}.
 */
@Path("/api/v1/destinations")
@Produces(MediaType.APPLICATION_JSON)
public class DestinationResource {

    private final Destinations destinations;
    private final PolicyResolver resolver;
    private final RequestSupport request;
    private final PolicyConfig config;
    private final OutboundCertificateCheck certificates;

    DestinationResource(Destinations destinations, PolicyResolver resolver, RequestSupport request,
            PolicyConfig config, OutboundCertificateCheck certificates) {
        this.destinations = destinations;
        this.resolver = resolver;
        this.request = request;
        this.config = config;
        this.certificates = certificates;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "All entries as summary rows: key, recipient limit, TLS, bounce verification, bounce profile, IP preference")
    public List<ObjectNode> list() {
        return DestinationJson.summaries(destinations.all());
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Create an entry (409 when the key exists)")
    public Response create(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        DestinationJson.Parsed p = DestinationJson.parse(request.body(body), true, false);
        if (!p.ok()) {
            throw new InvalidRequestException(p.errors());
        }
        DestinationSettings s = destinations.create(p.key(), p.settings(), request.change(comment));
        return RequestSupport.created("/api/v1/destinations/" + p.key().text(), withWarnings(p.key(), s));
    }

    @GET
    @Path("/resolve")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Which settings apply to recipient domain D and/or next hop A, and which entry supplied each")
    public ObjectNode resolve(@QueryParam("domain") String domain, @QueryParam("ip") String ip) {
        List<FieldError> errors = new ArrayList<>();
        String d = null;
        byte[] a = null;
        if (domain != null && !domain.isBlank()) {
            try {
                d = DomainName.normalise(domain);
            } catch (IllegalArgumentException e) {
                errors.add(new FieldError("domain", e.getMessage()));
            }
        }
        if (ip != null && !ip.isBlank()) {
            a = PolicyResolver.address(ip);
            if (a == null) {
                errors.add(new FieldError("ip", "'" + ip + "' is not an IP address"));
            }
        }
        if (d == null && a == null && errors.isEmpty()) {
            errors.add(new FieldError("domain", "give a domain, an ip, or both"));
        }
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
        long version = resolver.version();
        return DestinationJson.effective(d, a == null ? null : DestinationKey.format(a), resolver.resolve(d, a), version);
    }

    @GET
    @Path("/export")
    @Produces(MediaType.TEXT_PLAIN)
    @RolesAllowed(Roles.READER)
    @Operation(summary = "The whole table as an INI file (the appliance's destconfig export keys)")
    public String export() {
        return DestinationIni.format(destinations.all());
    }

    @POST
    @Path("/import")
    @Consumes(MediaType.TEXT_PLAIN)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Replace the whole table from an INI file; all or nothing, every bad line reported")
    public ObjectNode importTable(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        if (body == null || body.isBlank()) {
            throw InvalidRequestException.field("body", "empty import file");
        }
        if (body.length() > config.maxImportBody()) {
            throw InvalidRequestException.field("body", "larger than " + config.maxImportBody() + " bytes");
        }
        DestinationIni.Result r = DestinationIni.parse(body);
        if (!r.errors().isEmpty()) {
            throw new ProblemException(400, r.errors().size() + " bad line(s); nothing was changed",
                    r.errors().stream().map(e -> new FieldError("line " + e.line(), e.reason())).toList());
        }
        int n = destinations.replaceAll(r.table(), request.change(comment));
        ObjectNode o = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        o.put("entries", n);
        o.put("version", resolver.version());
        OutboundTlsMode def = r.table().get(DestinationKey.DEFAULT).tls();
        List<OutboundTlsMode> modes = r.table().values().stream().map(e -> e.tls() != null ? e.tls() : def).toList();
        warnings(o, certificates.warnings("destination import", modes));
        return o;
    }

    @DELETE
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Delete every entry but default")
    public ObjectNode clear(@HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        int n = destinations.clear(request.change(comment));
        ObjectNode o = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        o.put("deleted", n);
        return o;
    }

    @GET
    @Path("/{key: .+}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One entry; 'default' for the default entry")
    public ObjectNode get(@PathParam("key") String rawKey) {
        DestinationKey key = key(rawKey);
        return DestinationJson.entry(key, destinations.get(key));
    }

    @PUT
    @Path("/{key: .+}")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Replace an entry's fields (absent or \"default\" = use default); for 'default', absent fields keep their value")
    public ObjectNode replace(@PathParam("key") String rawKey, String body,
            @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        DestinationKey key = key(rawKey);
        JsonNode json = request.body(body);
        if (json.isObject() && json.has("key")) {
            JsonNode k = json.get("key");
            if (!k.isTextual() || !sameKey(k.asText(), key)) {
                throw InvalidRequestException.field("key", "does not match the key in the path");
            }
            ((ObjectNode) json).remove("key");
        }
        if (json.isObject() && json.has("kind")) {
            // What GET shows may be sent back unchanged: "kind" is read-only and must agree with the key.
            JsonNode k = json.get("kind");
            if (!k.isTextual() || !k.asText().equals(key.kind().name())) {
                throw InvalidRequestException.field("kind", "does not match the key (" + key.kind().name() + "); it may be left out");
            }
            ((ObjectNode) json).remove("kind");
        }
        if (json.isObject()) {
            // "warnings" of an earlier answer is read-only too.
            ((ObjectNode) json).remove("warnings");
        }
        DestinationJson.Parsed p = DestinationJson.parse(json, false, key.isDefault());
        if (!p.ok()) {
            throw new InvalidRequestException(p.errors());
        }
        return withWarnings(key, destinations.replace(key, p.settings(), request.change(comment)));
    }

    /**
     * A changed entry with {@code warnings}: what is wrong with the outbound certificate when
     * the entry's effective mode turns TLS on (the change is made either way).
     */
    private ObjectNode withWarnings(DestinationKey key, DestinationSettings s) {
        OutboundTlsMode mode = s.tls() != null || key.isDefault() ? s.tls() : destinations.get(DestinationKey.DEFAULT).tls();
        ObjectNode o = DestinationJson.entry(key, s);
        warnings(o, certificates.warnings("destination " + key.text(), List.of(mode)));
        return o;
    }

    private static void warnings(ObjectNode o, List<String> warnings) {
        var a = o.putArray("warnings");
        warnings.forEach(a::add);
    }

    @DELETE
    @Path("/{key: .+}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Delete an entry (the default entry cannot be deleted: 409)")
    public Response delete(@PathParam("key") String rawKey, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        destinations.delete(key(rawKey), request.change(comment));
        return Response.noContent().build();
    }

    private static DestinationKey key(String raw) {
        try {
            return DestinationKey.parse(raw);
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.field("key", e.getMessage());
        }
    }

    private static boolean sameKey(String raw, DestinationKey key) {
        try {
            return DestinationKey.parse(raw).equals(key);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
