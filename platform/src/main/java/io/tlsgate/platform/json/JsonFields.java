package io.tlsgate.platform.json;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.Problem.FieldError;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the fields of a JSON request object, collecting every problem with its field name
 * (unknown fields, wrong types, out-of-range values) so one 400 response lists them all.
 * A field that is absent reads as null.
 */
public final class JsonFields {

    private final JsonNode body;
    private final List<FieldError> errors = new ArrayList<>();

    private JsonFields(JsonNode body) {
        this.body = body;
    }

    /** A request body as JSON; 400 naming {@code body} when it is empty, too large or not JSON. */
    public static JsonNode readBody(com.fasterxml.jackson.databind.ObjectMapper json, String body, int maxBytes) {
        if (body == null || body.isBlank()) {
            throw InvalidRequestException.field("body", "a JSON object is required");
        }
        if (body.length() > maxBytes) {
            throw InvalidRequestException.field("body", "larger than " + maxBytes + " bytes");
        }
        try {
            return json.readTree(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw InvalidRequestException.field("body", "not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** Starts reading an object whose only allowed fields are {@code allowed}. */
    public static JsonFields of(JsonNode body, Set<String> allowed) {
        JsonFields f = new JsonFields(body);
        if (body == null || !body.isObject()) {
            f.errors.add(new FieldError("body", "must be a JSON object"));
            return f;
        }
        for (Iterator<String> it = body.fieldNames(); it.hasNext();) {
            String name = it.next();
            if (!allowed.contains(name)) {
                f.errors.add(new FieldError(name, "unknown field"));
            }
        }
        return f;
    }

    public Integer integer(String name, int min, int max) {
        JsonNode n = node(name);
        if (n == null) {
            return null;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < min || n.asInt() > max) {
            errors.add(new FieldError(name, "must be a whole number between " + min + " and " + max));
            return null;
        }
        return n.asInt();
    }

    public Boolean bool(String name) {
        JsonNode n = node(name);
        if (n == null) {
            return null;
        }
        if (!n.isBoolean()) {
            errors.add(new FieldError(name, "must be true or false"));
            return null;
        }
        return n.asBoolean();
    }

    public String string(String name, Pattern pattern, String what) {
        JsonNode n = node(name);
        if (n == null) {
            return null;
        }
        if (!n.isTextual() || !pattern.matcher(n.asText()).matches()) {
            errors.add(new FieldError(name, "must be " + what));
            return null;
        }
        return n.asText();
    }

    public <E extends Enum<E>> E enumValue(String name, Class<E> type) {
        JsonNode n = node(name);
        if (n == null) {
            return null;
        }
        try {
            if (n.isTextual()) {
                return Enum.valueOf(type, n.asText());
            }
        } catch (IllegalArgumentException e) {
            // reported below
        }
        errors.add(new FieldError(name, "must be one of " + Arrays.toString(type.getEnumConstants())));
        return null;
    }

    /**
     * A list of strings of at most {@code maxItems}; a problem with one item is reported as
     * {@code name[i]} (0-based), so an operator can find it.
     *
     * @param parse turns an item into its value or throws IllegalArgumentException saying why not
     */
    public <T> List<T> list(String name, int maxItems, java.util.function.Function<String, T> parse) {
        JsonNode n = node(name);
        if (n == null) {
            return null;
        }
        if (!n.isArray()) {
            errors.add(new FieldError(name, "must be a list of strings"));
            return null;
        }
        if (n.size() > maxItems) {
            errors.add(new FieldError(name, "has " + n.size() + " items; at most " + maxItems + " are allowed"));
            return null;
        }
        List<T> out = new ArrayList<>();
        boolean ok = true;
        for (int i = 0; i < n.size(); i++) {
            JsonNode item = n.get(i);
            if (!item.isTextual()) {
                errors.add(new FieldError(name + "[" + i + "]", "must be a string"));
                ok = false;
                continue;
            }
            try {
                out.add(parse.apply(item.asText()));
            } catch (IllegalArgumentException e) {
                errors.add(new FieldError(name + "[" + i + "]", e.getMessage()));
                ok = false;
            }
        }
        return ok ? out : null;
    }

    /** Whether the body has the field at all (null included). */
    public boolean has(String name) {
        return body != null && body.isObject() && body.has(name);
    }

    /** Reports {@code required} for each named field the body lacks. */
    public void require(String... names) {
        if (body == null || !body.isObject()) {
            return;
        }
        for (String n : names) {
            if (!body.has(n)) {
                errors.add(new FieldError(n, "required"));
            }
        }
    }

    /** Records a problem found by the caller (e.g. a rule across fields). */
    public void error(String name, String message) {
        errors.add(new FieldError(name, message));
    }

    /** 400 listing every problem found, if any. */
    public void check() {
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
    }

    private JsonNode node(String name) {
        if (body == null || !body.isObject()) {
            return null;
        }
        JsonNode n = body.get(name);
        if (n == null) {
            return null;
        }
        if (n.isNull()) {
            errors.add(new FieldError(name, "must not be null"));
            return null;
        }
        return n;
    }
}
