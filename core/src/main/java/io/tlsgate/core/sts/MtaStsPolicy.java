package io.tlsgate.core.sts;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * An MTA-STS policy (RFC 8461 §3.2), as served at
 * {@code https://mta-sts.<domain>/.well-known/mta-sts.txt}: its mode, the MX host patterns
 * mail may go to, and how long it may be cached.
 *
 * @param mode {@code enforce}, {@code testing} or {@code none}
 * @param mx MX host patterns: a host name, or {@code *.} and a domain (one label matches the star)
 * @param maxAgeSeconds how long the policy may be used after it was fetched
 */
public record MtaStsPolicy(Mode mode, List<String> mx, long maxAgeSeconds) {

    /** The most a policy may be cached: RFC 8461 §3.2 caps max_age at 31557600 seconds (a year). */
    public static final long MAX_AGE_LIMIT = 31_557_600L;

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9]{1,32}");
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    public enum Mode {
        ENFORCE, TESTING, NONE;

        public String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public MtaStsPolicy {
        mx = List.copyOf(mx);
    }

    /** Why a policy or TXT record was refused; the message names the field. */
    public static final class Invalid extends Exception {
        public Invalid(String message) {
            super(message);
        }
    }

    /**
     * Parses a policy body: {@code key: value} lines (LF or CRLF), {@code version: STSv1},
     * {@code mode}, {@code max_age} and, unless the mode is none, at least one {@code mx};
     * unknown keys are ignored, as the RFC says.
     */
    public static MtaStsPolicy parse(String body) throws Invalid {
        String version = null;
        Mode mode = null;
        Long maxAge = null;
        List<String> mx = new ArrayList<>();
        for (String raw : body.split("\n", -1)) {
            String line = raw.endsWith("\r") ? raw.substring(0, raw.length() - 1) : raw;
            if (line.isBlank()) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new Invalid("not a 'key: value' line: '" + abbreviate(line) + "'");
            }
            String key = line.substring(0, colon).strip();
            String value = line.substring(colon + 1).strip();
            switch (key) {
                case "version" -> {
                    if (version != null) {
                        throw new Invalid("version: given twice");
                    }
                    version = value;
                }
                case "mode" -> {
                    if (mode != null) {
                        throw new Invalid("mode: given twice");
                    }
                    mode = switch (value) {
                        case "enforce" -> Mode.ENFORCE;
                        case "testing" -> Mode.TESTING;
                        case "none" -> Mode.NONE;
                        default -> throw new Invalid("mode: must be enforce, testing or none, not '" + abbreviate(value) + "'");
                    };
                }
                case "max_age" -> {
                    if (maxAge != null) {
                        throw new Invalid("max_age: given twice");
                    }
                    if (!value.matches("[0-9]{1,10}")) {
                        throw new Invalid("max_age: not a number of seconds: '" + abbreviate(value) + "'");
                    }
                    long v = Long.parseLong(value);
                    if (v > MAX_AGE_LIMIT) {
                        throw new Invalid("max_age: at most " + MAX_AGE_LIMIT + " seconds, not " + v);
                    }
                    maxAge = v;
                }
                case "mx" -> mx.add(pattern(value));
                default -> {
                    // an extension: ignored
                }
            }
        }
        if (!"STSv1".equals(version)) {
            throw new Invalid(version == null ? "version: missing" : "version: must be STSv1, not '" + abbreviate(version) + "'");
        }
        if (mode == null) {
            throw new Invalid("mode: missing");
        }
        if (maxAge == null) {
            throw new Invalid("max_age: missing");
        }
        if (mx.isEmpty() && mode != Mode.NONE) {
            throw new Invalid("mx: at least one is needed in mode " + mode.wire());
        }
        return new MtaStsPolicy(mode, mx, maxAge);
    }

    /**
     * The policy id of a domain's {@code _mta-sts} TXT records (RFC 8461 §3.1): records not
     * starting with {@code v=STSv1;} are not counted; exactly one must remain, with an
     * {@code id} of 1 to 32 letters and digits. Null when the domain has no usable record.
     */
    public static String policyId(List<String> txtRecords) throws Invalid {
        List<String> sts = txtRecords.stream().filter(t -> t.startsWith("v=STSv1;") || t.equals("v=STSv1")).toList();
        if (sts.isEmpty()) {
            return null;
        }
        if (sts.size() > 1) {
            throw new Invalid("_mta-sts: " + sts.size() + " v=STSv1 records, one is allowed");
        }
        String id = null;
        for (String field : sts.get(0).split(";")) {
            String f = field.strip();
            int eq = f.indexOf('=');
            if (f.isEmpty() || eq <= 0) {
                if (!f.isEmpty()) {
                    throw new Invalid("_mta-sts: not a field: '" + abbreviate(f) + "'");
                }
                continue;
            }
            if (f.substring(0, eq).strip().equals("id")) {
                id = f.substring(eq + 1).strip();
            }
        }
        if (id == null) {
            throw new Invalid("_mta-sts: id missing");
        }
        if (!ID.matcher(id).matches()) {
            throw new Invalid("_mta-sts: id must be 1 to 32 letters and digits, not '" + abbreviate(id) + "'");
        }
        return id;
    }

    /**
     * A policy from its parts, each checked as {@link #parse} checks the file: patterns
     * normalised, {@code maxAgeSeconds} within RFC 8461's bounds, at least one pattern unless the
     * mode is none. The message of {@link Invalid} names the field ({@code mx}, {@code max_age}).
     */
    public static MtaStsPolicy of(Mode mode, List<String> mx, long maxAgeSeconds) throws Invalid {
        if (maxAgeSeconds < 0 || maxAgeSeconds > MAX_AGE_LIMIT) {
            throw new Invalid("max_age: between 0 and " + MAX_AGE_LIMIT + " seconds, not " + maxAgeSeconds);
        }
        List<String> patterns = new ArrayList<>();
        for (String p : mx) {
            String n = pattern(p);
            if (!patterns.contains(n)) {
                patterns.add(n);
            }
        }
        if (patterns.isEmpty() && mode != Mode.NONE) {
            throw new Invalid("mx: at least one is needed in mode " + mode.wire());
        }
        return new MtaStsPolicy(mode, patterns, maxAgeSeconds);
    }

    /** The policy file as served at {@code /.well-known/mta-sts.txt} (CRLF lines, RFC 8461 §3.2). */
    public String text() {
        StringBuilder b = new StringBuilder("version: STSv1\r\nmode: ").append(mode.wire()).append("\r\n");
        for (String p : mx) {
            b.append("mx: ").append(p).append("\r\n");
        }
        return b.append("max_age: ").append(maxAgeSeconds).append("\r\n").toString();
    }

    /** Whether the MX host {@code host} matches one of the policy's patterns (RFC 8461 §4.1). */
    public boolean allows(String host) {
        String h = normalise(host);
        for (String p : mx) {
            if (p.startsWith("*.")) {
                int dot = h.indexOf('.');
                if (dot > 0 && h.substring(dot + 1).equals(p.substring(2))) {
                    return true;
                }
            } else if (p.equals(h)) {
                return true;
            }
        }
        return false;
    }

    private static String pattern(String value) throws Invalid {
        String p = normalise(value);
        String host = p.startsWith("*.") ? p.substring(2) : p;
        String[] labels = host.split("\\.", -1);
        if (labels.length < 2) {
            throw new Invalid("mx: not a host name or *.domain pattern: '" + abbreviate(value) + "'");
        }
        for (String label : labels) {
            if (!LABEL.matcher(label).matches()) {
                throw new Invalid("mx: not a host name or *.domain pattern: '" + abbreviate(value) + "'");
            }
        }
        return p;
    }

    private static String normalise(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
