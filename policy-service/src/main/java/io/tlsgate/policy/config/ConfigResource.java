package io.tlsgate.policy.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.Problem.FieldError;
import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.policy.PolicyConfig;
import io.tlsgate.policy.bounce.BounceProfileResource;
import io.tlsgate.policy.change.PolicyTransactions;
import io.tlsgate.policy.destination.DestinationJson;
import io.tlsgate.policy.destination.Destinations;
import io.tlsgate.policy.inbound.ListenerResource;
import io.tlsgate.policy.inbound.MailFlowPolicyResource;
import io.tlsgate.policy.inbound.RecipientAccessResource;
import io.tlsgate.policy.inbound.SenderGroupResource;
import io.tlsgate.policy.inbound.SmtpRouteResource;
import io.tlsgate.policy.resolve.PolicyResolver;
import io.tlsgate.policy.settings.OutboundCertificateCheck;
import io.tlsgate.policy.settings.OutboundSettingsResource;
import io.tlsgate.policy.sts.HostedPolicyResource;
import io.tlsgate.policy.web.ChangeContext;
import io.tlsgate.policy.web.RequestSupport;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * REST: the whole configuration of policy-service as one JSON document (docs/operations.md).
 * Every item is what its own {@code GET} returns, and the import writes it with its own
 * {@code PUT} or {@code POST}, so the rules are those of each resource. An import is all or
 * nothing: every change goes into one transaction, each item's failure is collected (with
 * the item named), and only a document without any is committed; {@code validateOnly=true}
 * does all of it and rolls back.
 */
@Path("/api/v1/config")
@Produces(MediaType.APPLICATION_JSON)
public class ConfigResource {

    static final String FORMAT = "tlsgate-policy-config/1";

    /** A collection of named items and what to do with one. */
    private record Section(String name, String idField, Supplier<List<?>> list, Function<String, Object> get,
            BiFunction<String, String, Object> create, BiFunction<String, String, Object> replace, Consumer<String> delete) {}

    /** What an import did (or, validating, would do) to each section. */
    public record Counts(int created, int updated, int unchanged, int deleted) {}

    private final ObjectMapper json;
    private final PolicyTransactions tx;
    private final PolicyResolver resolver;
    private final PolicyConfig config;
    private final RequestSupport request;
    private final Destinations destinations;
    private final BounceProfileResource bounceProfiles;
    private final MailFlowPolicyResource mailFlowPolicies;
    private final SenderGroupResource senderGroups;
    private final ListenerResource listeners;
    private final RecipientAccessResource rat;
    private final SmtpRouteResource routes;
    private final HostedPolicyResource mtaSts;
    private final OutboundSettingsResource outbound;
    private final OutboundCertificateCheck certificates;

    ConfigResource(ObjectMapper json, PolicyTransactions tx, PolicyResolver resolver, PolicyConfig config, RequestSupport request,
            Destinations destinations, BounceProfileResource bounceProfiles, MailFlowPolicyResource mailFlowPolicies,
            SenderGroupResource senderGroups, ListenerResource listeners, RecipientAccessResource rat, SmtpRouteResource routes,
            HostedPolicyResource mtaSts, OutboundSettingsResource outbound, OutboundCertificateCheck certificates) {
        this.json = json;
        this.tx = tx;
        this.resolver = resolver;
        this.config = config;
        this.request = request;
        this.destinations = destinations;
        this.bounceProfiles = bounceProfiles;
        this.mailFlowPolicies = mailFlowPolicies;
        this.senderGroups = senderGroups;
        this.listeners = listeners;
        this.rat = rat;
        this.routes = routes;
        this.mtaSts = mtaSts;
        this.outbound = outbound;
        this.certificates = certificates;
    }

    /** The named sections in the order an import writes them (deletions go the other way). */
    private List<Section> sections(String comment) {
        return List.of(
                new Section("bounceProfiles", "name", bounceProfiles::list, bounceProfiles::get,
                        (id, body) -> bounceProfiles.create(body, comment), (id, body) -> bounceProfiles.replace(id, body, comment),
                        id -> bounceProfiles.delete(id, comment)),
                new Section("mailFlowPolicies", "name", mailFlowPolicies::list, mailFlowPolicies::get,
                        (id, body) -> mailFlowPolicies.create(body, comment), (id, body) -> mailFlowPolicies.replace(id, body, comment),
                        id -> mailFlowPolicies.delete(id, comment)),
                new Section("senderGroups", "name", senderGroups::list, senderGroups::get,
                        (id, body) -> senderGroups.create(body, comment), (id, body) -> senderGroups.replace(id, body, comment),
                        id -> senderGroups.delete(id, comment)),
                new Section("listeners", "name", listeners::list, listeners::get,
                        (id, body) -> listeners.create(body, comment), (id, body) -> listeners.replace(id, body, comment),
                        id -> listeners.delete(id, comment)),
                new Section("smtpRoutes", "domain", routes::list, routes::get,
                        (id, body) -> routes.create(body, comment), (id, body) -> routes.replace(id, body, comment),
                        id -> routes.delete(id, comment)),
                new Section("mtaStsPolicies", "domain", mtaSts::list, mtaSts::get,
                        (id, body) -> mtaSts.put(id, body, comment), (id, body) -> mtaSts.put(id, body, comment),
                        id -> mtaSts.delete(id, comment)));
    }

    private static final Set<String> SINGLES = Set.of("format", "destinations", "hostAccessTables", "recipientAccess",
            "outboundSettings");

    @GET
    @Path("/export")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "The whole configuration of policy-service (one consistent read): every section as its GETs return it")
    public ObjectNode export() {
        return tx.snapshot(() -> {
            ObjectNode o = json.createObjectNode();
            o.put("format", FORMAT);
            for (Section s : sections(null)) {
                o.set(s.name(), tree(s.list().get()));
            }
            ObjectNode hats = o.putObject("hostAccessTables");
            for (JsonNode l : o.get("listeners")) {
                String name = l.get("name").asText();
                hats.set(name, tree(listeners.hat(name)).get("hostAccessTable"));
            }
            ArrayNode d = o.putArray("destinations");
            destinations.all().forEach((key, settings) -> d.add(DestinationJson.entry(key, settings)));
            o.set("recipientAccess", tree(rat.list()));
            o.set("outboundSettings", tree(outbound.get()));
            return o;
        });
    }

    @POST
    @Path("/import")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Make the configuration what the document says, all or nothing: every section given replaces that "
            + "part (absent sections stay); every problem reported with the item it is in; validateOnly=true changes nothing")
    public ObjectNode importConfig(String body, @QueryParam("validateOnly") boolean validateOnly,
            @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        if (body == null || body.isBlank()) {
            throw InvalidRequestException.field("body", "empty import document");
        }
        if (body.length() > config.maxImportBody()) {
            throw InvalidRequestException.field("body", "larger than " + config.maxImportBody() + " bytes");
        }
        JsonNode doc;
        try {
            doc = json.readTree(body);
        } catch (JsonProcessingException e) {
            throw InvalidRequestException.field("body", "not JSON: " + e.getOriginalMessage());
        }
        List<Section> sections = sections(comment);
        Map<String, Map<String, JsonNode>> items = structure(doc, sections);
        ChangeContext who = request.change(comment);
        List<FieldError> errors = new ArrayList<>();
        Map<String, Counts> counts = new LinkedHashMap<>();
        List<OutboundTlsMode> modes = new ArrayList<>();
        boolean committed = tx.allOrNothing(() -> {
            for (Section s : sections) {
                if (items.containsKey(s.name())) {
                    counts.put(s.name(), upsert(s, items.get(s.name()), errors));
                }
            }
            if (doc.has("hostAccessTables")) {
                counts.put("hostAccessTables", hats(doc.get("hostAccessTables"), comment, errors));
            }
            if (doc.has("destinations")) {
                counts.put("destinations", destinations(doc.get("destinations"), who, modes, errors));
            }
            if (doc.has("recipientAccess")) {
                counts.put("recipientAccess", single("recipientAccess", tree(rat.list()), doc.get("recipientAccess"),
                        b -> rat.replace(b, comment), errors));
            }
            if (doc.has("outboundSettings")) {
                counts.put("outboundSettings", single("outboundSettings", tree(outbound.get()),
                        doc.get("outboundSettings"), b -> outbound.put(b, comment), errors));
            }
            for (Section s : reversed(sections)) {
                if (items.containsKey(s.name())) {
                    Counts c = counts.get(s.name());
                    counts.put(s.name(), new Counts(c.created(), c.updated(), c.unchanged(),
                            deleteAbsent(s, items.get(s.name()).keySet(), errors)));
                }
            }
            return errors.isEmpty() && !validateOnly;
        });
        if (!errors.isEmpty()) {
            throw new ProblemException(400, errors.size() + " problem(s) in the import; nothing was changed", errors);
        }
        ObjectNode o = json.createObjectNode();
        o.put("validateOnly", validateOnly);
        o.put("changed", committed);
        o.put("version", resolver.version());
        o.set("sections", json.valueToTree(counts));
        ArrayNode w = o.putArray("warnings");
        certificates.warnings("config import", modes).forEach(w::add);
        return o;
    }

    /** Checks the document's shape (format, sections, names present and unique) before anything is written. */
    private Map<String, Map<String, JsonNode>> structure(JsonNode doc, List<Section> sections) {
        if (!doc.isObject()) {
            throw InvalidRequestException.field("body", "must be a JSON object (what GET /api/v1/config/export returns)");
        }
        List<FieldError> errors = new ArrayList<>();
        if (!doc.path("format").asText("").equals(FORMAT)) {
            errors.add(new FieldError("format", "must be \"" + FORMAT + "\""));
        }
        Set<String> known = new HashSet<>(SINGLES);
        sections.forEach(s -> known.add(s.name()));
        for (Iterator<String> it = doc.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!known.contains(f)) {
                errors.add(new FieldError(f, "unknown section"));
            }
        }
        Map<String, Map<String, JsonNode>> out = new LinkedHashMap<>();
        for (Section s : sections) {
            JsonNode list = doc.get(s.name());
            if (list == null) {
                continue;
            }
            if (!list.isArray()) {
                errors.add(new FieldError(s.name(), "must be an array"));
                continue;
            }
            Map<String, JsonNode> byId = new LinkedHashMap<>();
            for (int i = 0; i < list.size(); i++) {
                JsonNode id = list.get(i).get(s.idField());
                if (!list.get(i).isObject() || id == null || !id.isTextual() || id.asText().isBlank()) {
                    errors.add(new FieldError(s.name() + "[" + i + "]", "must be an object with \"" + s.idField() + "\""));
                } else if (byId.putIfAbsent(id.asText(), list.get(i)) != null) {
                    errors.add(new FieldError(s.name() + "[" + i + "]", "'" + id.asText() + "' is given twice"));
                }
            }
            out.put(s.name(), byId);
        }
        for (String single : List.of("recipientAccess", "outboundSettings", "hostAccessTables")) {
            if (doc.has(single) && !doc.get(single).isObject()) {
                errors.add(new FieldError(single, "must be an object"));
            }
        }
        if (doc.has("destinations") && !doc.get("destinations").isArray()) {
            errors.add(new FieldError("destinations", "must be an array"));
        }
        if (!errors.isEmpty()) {
            throw new ProblemException(400, errors.size() + " problem(s) in the import; nothing was changed", errors);
        }
        return out;
    }

    /** Creates the items that are new, replaces those that differ from what GET returns now. */
    private Counts upsert(Section s, Map<String, JsonNode> items, List<FieldError> errors) {
        int created = 0;
        int updated = 0;
        int unchanged = 0;
        for (Map.Entry<String, JsonNode> e : items.entrySet()) {
            String where = s.name() + "[" + e.getKey() + "]";
            JsonNode now = current(s, e.getKey());
            if (now != null && now.equals(e.getValue())) {
                unchanged++;
                continue;
            }
            if (attempt(where, errors, () -> (now == null ? s.create() : s.replace()).apply(e.getKey(), text(e.getValue())))) {
                if (now == null) {
                    created++;
                } else {
                    updated++;
                }
            }
        }
        return new Counts(created, updated, unchanged, 0);
    }

    private JsonNode current(Section s, String id) {
        try {
            return tree(s.get().apply(id));
        } catch (ProblemException e) {
            if (e.status() == 404) {
                return null;
            }
            throw e;
        }
    }

    private int deleteAbsent(Section s, Set<String> keep, List<FieldError> errors) {
        int deleted = 0;
        for (Object item : s.list().get()) {
            String id = tree(item).get(s.idField()).asText();
            if (!keep.contains(id) && attempt(s.name() + "[" + id + "]", errors, () -> {
                s.delete().accept(id);
                return null;
            })) {
                deleted++;
            }
        }
        return deleted;
    }

    private Counts hats(JsonNode tables, String comment, List<FieldError> errors) {
        int updated = 0;
        int unchanged = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = tables.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String where = "hostAccessTables[" + e.getKey() + "]";
            ObjectNode body = json.createObjectNode();
            body.set("hostAccessTable", e.getValue());
            JsonNode now;
            try {
                now = tree(listeners.hat(e.getKey())).get("hostAccessTable");
            } catch (ProblemException x) {
                errors.add(new FieldError(where, x.getMessage()));
                continue;
            }
            if (now.equals(e.getValue())) {
                unchanged++;
            } else if (attempt(where, errors, () -> listeners.replaceHat(e.getKey(), text(body), comment))) {
                updated++;
            }
        }
        return new Counts(0, updated, unchanged, 0);
    }

    private Counts destinations(JsonNode entries, ChangeContext who, List<OutboundTlsMode> modes, List<FieldError> errors) {
        Map<DestinationKey, DestinationSettings> table = new LinkedHashMap<>();
        int before = errors.size();
        for (int i = 0; i < entries.size(); i++) {
            JsonNode entry = entries.get(i).deepCopy();
            String where = "destinations[" + entry.path("key").asText(String.valueOf(i)) + "]";
            if (!entry.isObject()) {
                errors.add(new FieldError("destinations[" + i + "]", "must be an object"));
                continue;
            }
            ((ObjectNode) entry).remove("kind");
            boolean isDefault = "default".equals(entry.path("key").asText());
            if (isDefault) {
                ((ObjectNode) entry).remove("key");
            }
            DestinationJson.Parsed p = DestinationJson.parse(entry, !isDefault, isDefault);
            if (!p.ok()) {
                p.errors().forEach(fe -> errors.add(new FieldError(where + "." + fe.field(), fe.message())));
                continue;
            }
            DestinationKey key = isDefault ? DestinationKey.DEFAULT : p.key();
            if (table.put(key, p.settings()) != null) {
                errors.add(new FieldError(where, "'" + key.text() + "' is given twice"));
            }
        }
        if (errors.size() > before) {
            return new Counts(0, 0, 0, 0);
        }
        if (!table.containsKey(DestinationKey.DEFAULT)) {
            errors.add(new FieldError("destinations", "the default entry is missing"));
            return new Counts(0, 0, 0, 0);
        }
        Map<DestinationKey, DestinationSettings> now = destinations.all();
        if (now.equals(table)) {
            return new Counts(0, 0, table.size(), 0);
        }
        OutboundTlsMode def = table.get(DestinationKey.DEFAULT).tls();
        table.values().forEach(s -> modes.add(s.tls() != null ? s.tls() : def));
        attempt("destinations", errors, () -> destinations.replaceAll(table, who));
        int created = (int) table.keySet().stream().filter(k -> !now.containsKey(k)).count();
        int updated = (int) table.entrySet().stream().filter(e -> now.containsKey(e.getKey()) && !now.get(e.getKey()).equals(e.getValue()))
                .count();
        int deleted = (int) now.keySet().stream().filter(k -> !table.containsKey(k)).count();
        return new Counts(created, updated, table.size() - created - updated, deleted);
    }

    private Counts single(String name, JsonNode now, JsonNode wanted, Function<String, Object> put, List<FieldError> errors) {
        if (now.equals(wanted)) {
            return new Counts(0, 0, 1, 0);
        }
        return attempt(name, errors, () -> put.apply(text(wanted))) ? new Counts(0, 1, 0, 0) : new Counts(0, 0, 0, 0);
    }

    /** Runs one change; a refusal is recorded with {@code where} in front of each field it names. */
    private static boolean attempt(String where, List<FieldError> errors, Supplier<Object> change) {
        try {
            change.get();
            return true;
        } catch (InvalidRequestException e) {
            e.errors().forEach(fe -> errors.add(new FieldError(where + "." + fe.field(), fe.message())));
        } catch (ProblemException e) {
            if (e.errors() == null || e.errors().isEmpty()) {
                errors.add(new FieldError(where, e.getMessage()));
            } else {
                e.errors().forEach(fe -> errors.add(new FieldError(where + "." + fe.field(), fe.message())));
            }
        }
        return false;
    }

    /**
     * As a client reads the REST answer: written and parsed again, so that it compares equal
     * to the same JSON in a document (a long 5 and an int 5 are the same number there).
     */
    private JsonNode tree(Object o) {
        try {
            return json.readTree(json.writeValueAsString(o));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<Section> reversed(List<Section> sections) {
        List<Section> r = new ArrayList<>(sections);
        java.util.Collections.reverse(r);
        return r;
    }

    private String text(JsonNode n) {
        try {
            return json.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
