package io.tlsgate.policy.destination;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tlsgate.core.destination.DestinationField;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.core.destination.EffectivePolicy;
import io.tlsgate.core.destination.IpPreference;
import io.tlsgate.core.destination.LimitsApplyPer;
import io.tlsgate.core.destination.LimitsScope;
import io.tlsgate.core.destination.RecipientLimit;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.problem.Problem.FieldError;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The JSON form of destination controls, both ways. In a request every field may be absent
 * or {@code "default"} (use default); {@code recipientLimit} is {@code "none"} or
 * {@code {"recipients": n, "perMinutes": m}}; {@code bounceVerification} is a boolean. Every
 * problem is collected with its field name, so one response lists them all; unknown fields
 * and wrong JSON types are errors, never ignored.
 */
public final class DestinationJson {

    static final String DEFAULT = "default";
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private DestinationJson() {}

    /** A parsed request: the key (when asked for) and the settings, or the errors. */
    public record Parsed(DestinationKey key, DestinationSettings settings, List<FieldError> errors) {
        public boolean ok() {
            return errors.isEmpty();
        }
    }

    /**
     * Parses a request body.
     *
     * @param withKey whether the body must carry {@code key} (create) or must not (update)
     * @param forDefault whether this is the default entry ({@code "default"} values refused)
     */
    public static Parsed parse(JsonNode body, boolean withKey, boolean forDefault) {
        List<FieldError> errors = new ArrayList<>();
        if (body == null || !body.isObject()) {
            errors.add(new FieldError("body", "must be a JSON object"));
            return new Parsed(null, null, errors);
        }
        DestinationKey key = null;
        for (Iterator<String> it = body.fieldNames(); it.hasNext();) {
            String name = it.next();
            if (!(name.equals("key") && withKey) && !(name.equals("kind") && withKey) && DestinationField.byJsonName(name) == null) {
                errors.add(new FieldError(name, "unknown field"));
            }
        }
        if (withKey) {
            JsonNode k = body.get("key");
            if (k == null || !k.isTextual()) {
                errors.add(new FieldError("key", "required, a string"));
            } else {
                try {
                    key = DestinationKey.parse(k.asText());
                    if (key.isDefault()) {
                        errors.add(new FieldError("key", "the default entry always exists; edit it with PUT"));
                    }
                    JsonNode kind = body.get("kind");
                    if (kind != null && !(kind.isTextual() && kind.asText().equals(key.kind().name()))) {
                        errors.add(new FieldError("kind", "does not match the key (" + key.kind().name() + "); it may be left out"));
                    }
                } catch (IllegalArgumentException e) {
                    errors.add(new FieldError("key", e.getMessage()));
                }
            }
        }
        Object[] v = new Object[DestinationField.values().length];
        for (DestinationField f : DestinationField.values()) {
            JsonNode n = body.get(f.jsonName());
            if (forDefault && f == DestinationField.BOUNCE_PROFILE && n != null && n.isTextual() && n.asText().equals(DEFAULT)) {
                // The default entry inherits nothing: its "default" is the profile of that name (as GET shows it).
                v[f.ordinal()] = DEFAULT;
                continue;
            }
            if (n == null || (n.isTextual() && n.asText().equals(DEFAULT))) {
                if (n != null && forDefault) {
                    errors.add(new FieldError(f.jsonName(), "the default entry cannot use default"));
                }
                continue;
            }
            try {
                v[f.ordinal()] = value(f, n);
            } catch (IllegalArgumentException e) {
                errors.add(new FieldError(f.jsonName(), e.getMessage()));
            }
        }
        DestinationSettings s = null;
        if (errors.isEmpty()) {
            try {
                s = new DestinationSettings((OutboundTlsMode) v[0], (Integer) v[1], (Integer) v[2], (RecipientLimit) v[3],
                        (LimitsApplyPer) v[4], (LimitsScope) v[5], (IpPreference) v[6], (Boolean) v[7], (String) v[8],
                        (Boolean) v[9], (Boolean) v[10]);
            } catch (DestinationSettings.InvalidSettingException e) {
                errors.add(new FieldError(e.field().jsonName(), e.reason()));
            }
        }
        return new Parsed(key, s, errors);
    }

    private static Object value(DestinationField f, JsonNode n) {
        return switch (f) {
            case TLS -> enumValue(OutboundTlsMode.class, n);
            case MAX_CONCURRENT_CONNECTIONS -> range(n, 1, DestinationSettings.MAX_CONNECTIONS);
            case MAX_MESSAGES_PER_CONNECTION -> range(n, 1, DestinationSettings.MAX_MESSAGES);
            case RECIPIENT_LIMIT -> recipientLimit(n);
            case LIMITS_APPLY_PER -> enumValue(LimitsApplyPer.class, n);
            case LIMITS_SCOPE -> enumValue(LimitsScope.class, n);
            case IP_PREFERENCE -> enumValue(IpPreference.class, n);
            case BOUNCE_VERIFICATION, IGNORE_MTA_STS, IGNORE_DANE -> {
                if (!n.isBoolean()) {
                    throw new IllegalArgumentException("must be true, false or \"default\"");
                }
                yield n.asBoolean();
            }
            case BOUNCE_PROFILE -> {
                if (!n.isTextual() || !DestinationSettings.PROFILE_NAME.matcher(n.asText()).matches()) {
                    throw new IllegalArgumentException("must be a bounce profile name");
                }
                yield n.asText();
            }
        };
    }

    private static RecipientLimit recipientLimit(JsonNode n) {
        if (n.isTextual() && n.asText().equals("none")) {
            return RecipientLimit.NONE;
        }
        if (!n.isObject()) {
            throw new IllegalArgumentException("must be \"none\", \"default\" or {\"recipients\": n, \"perMinutes\": m}");
        }
        for (Iterator<String> it = n.fieldNames(); it.hasNext();) {
            String name = it.next();
            if (!name.equals("recipients") && !name.equals("perMinutes")) {
                throw new IllegalArgumentException("unknown field '" + name + "'");
            }
        }
        JsonNode r = n.get("recipients");
        JsonNode m = n.get("perMinutes");
        if (r == null || m == null) {
            throw new IllegalArgumentException("needs both recipients and perMinutes");
        }
        int recipients = rangeOf("recipients", r, 0, RecipientLimit.MAX_RECIPIENTS);
        int minutes = rangeOf("perMinutes", m, 1, RecipientLimit.MAX_MINUTES);
        return RecipientLimit.of(recipients, minutes);
    }

    private static int range(JsonNode n, int min, int max) {
        return rangeOf(null, n, min, max);
    }

    private static int rangeOf(String part, JsonNode n, int min, int max) {
        String prefix = part == null ? "" : part + " ";
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new IllegalArgumentException(prefix + "must be a whole number between " + min + " and " + max);
        }
        int v = n.asInt();
        if (v < min || v > max) {
            throw new IllegalArgumentException(prefix + "must be between " + min + " and " + max);
        }
        return v;
    }

    private static <E extends Enum<E>> E enumValue(Class<E> type, JsonNode n) {
        String allowed = Arrays.toString(type.getEnumConstants());
        if (!n.isTextual()) {
            throw new IllegalArgumentException("must be one of " + allowed + " or \"default\"");
        }
        try {
            return Enum.valueOf(type, n.asText());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + n.asText() + "' is not one of " + allowed);
        }
    }

    /** An entry as JSON: its key and each field, {@code "default"} where it uses the default. */
    public static ObjectNode entry(DestinationKey key, DestinationSettings s) {
        ObjectNode o = F.objectNode();
        o.put("key", key.text());
        o.put("kind", key.kind().name());
        for (DestinationField f : DestinationField.values()) {
            o.set(f.jsonName(), value(f.get(s)));
        }
        return o;
    }

    /** The summary row of LIST: key, rate limiting, TLS, bounce verification, bounce profile, IP preference. */
    public static ObjectNode summary(DestinationKey key, DestinationSettings s) {
        ObjectNode o = F.objectNode();
        o.put("key", key.text());
        o.set("recipientLimit", value(s.recipientLimit()));
        o.set("tls", value(s.tls()));
        o.set("bounceVerification", value(s.bounceVerification()));
        o.set("bounceProfile", value(s.bounceProfile()));
        o.set("ipPreference", value(s.ipPreference()));
        o.set("ignoreMtaSts", value(s.ignoreMtaSts()));
        o.set("ignoreDane", value(s.ignoreDane()));
        return o;
    }

    /** A resolve answer: the matched entry, every effective value, and which entry supplied each. */
    public static ObjectNode effective(String domain, String ip, EffectivePolicy p, long version) {
        ObjectNode o = F.objectNode();
        if (domain != null) {
            o.put("domain", domain);
        }
        if (ip != null) {
            o.put("ip", ip);
        }
        o.put("matched", p.matchedKey());
        ObjectNode values = o.putObject("values");
        ObjectNode sources = o.putObject("sources");
        for (DestinationField f : DestinationField.values()) {
            values.set(f.jsonName(), value(f.get(p.values())));
            sources.put(f.jsonName(), p.sourceOf(f));
        }
        o.put("version", version);
        return o;
    }

    private static JsonNode value(Object v) {
        if (v == null) {
            return F.textNode(DEFAULT);
        }
        if (v instanceof RecipientLimit rl) {
            if (!rl.limited()) {
                return F.textNode("none");
            }
            ObjectNode o = F.objectNode();
            o.put("recipients", rl.recipients());
            o.put("perMinutes", rl.perMinutes());
            return o;
        }
        if (v instanceof Integer i) {
            return F.numberNode(i);
        }
        if (v instanceof Boolean b) {
            return F.booleanNode(b);
        }
        if (v instanceof Enum<?> e) {
            return F.textNode(e.name());
        }
        return F.textNode(v.toString());
    }

    /** The summary rows of a whole table, in its order. */
    static List<ObjectNode> summaries(Map<DestinationKey, DestinationSettings> all) {
        List<ObjectNode> out = new ArrayList<>(all.size());
        all.forEach((k, s) -> out.add(summary(k, s)));
        return out;
    }
}
