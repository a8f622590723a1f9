package io.tlsgate.platform.problem;

/**
 * Parses numeric query and path parameters taken as strings, so that a bad value is a 400
 * naming the parameter (JAX-RS would answer a bare 404 for a value it cannot convert).
 */
public final class Params {

    private Params() {}

    /**
     * {@code value} as a long within [min, max], or {@code fallback} when absent.
     *
     * @throws InvalidRequestException naming {@code name} when not a number or out of range
     */
    public static Long longParam(String name, String value, Long fallback, long min, long max) {
        if (value == null || value.isBlank()) {
            return fallback;
        }
        long v;
        try {
            v = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw InvalidRequestException.field(name, "'" + value + "' is not a whole number");
        }
        if (v < min || v > max) {
            throw InvalidRequestException.field(name, "must be between " + min + " and " + max);
        }
        return v;
    }
}
