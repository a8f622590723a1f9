package io.tlsgate.policy.destination;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.core.destination.IpPreference;
import io.tlsgate.core.destination.LimitsApplyPer;
import io.tlsgate.core.destination.LimitsScope;
import io.tlsgate.core.destination.RecipientLimit;
import io.tlsgate.core.tls.OutboundTlsMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The destination-control table as an INI file, in the appliance's {@code destconfig} export
 * style (docs/destination-controls.md): a {@code [DEFAULT]} section, then one section per entry named by its
 * key; a key absent from an entry section means "use default". Keys: {@code ip_sort_pref},
 * {@code max_host_concurrency}, {@code max_messages_per_connection}, {@code recipient_limit}
 * ({@code none} or a number) with {@code recipient_minutes}, {@code limit_type}
 * ({@code 0}/{@code host}, {@code 1}/{@code MXIP}), {@code limit_apply} ({@code 0}/{@code system},
 * {@code 1}/{@code VG}), {@code bounce_profile}, and tlsgate's {@code tls} and
 * {@code bounce_verification}, {@code ignore_mta_sts} and {@code ignore_dane} ({@code on}/{@code off}). {@code #} and {@code ;} start
 * comments. Parsing reports every bad line with its number and never returns a partial table.
 */
public final class DestinationIni {

    private DestinationIni() {}

    /** One bad line of an import. */
    public record LineError(int line, String reason) {}

    /** The table, or the errors when there is any. */
    public record Result(Map<DestinationKey, DestinationSettings> table, List<LineError> errors) {}

    private static final List<String> KEYS = List.of("tls", "max_host_concurrency", "max_messages_per_connection",
            "recipient_limit", "recipient_minutes", "limit_type", "limit_apply", "ip_sort_pref", "bounce_verification",
            "bounce_profile", "ignore_mta_sts", "ignore_dane");

    /** Writes the table: default first, then the entries in the given order. */
    public static String format(Map<DestinationKey, DestinationSettings> table) {
        StringBuilder b = new StringBuilder("# tlsgate destination controls\n");
        DestinationSettings def = table.get(DestinationKey.DEFAULT);
        if (def != null) {
            b.append("\n[DEFAULT]\n");
            fields(b, def);
        }
        table.forEach((k, s) -> {
            if (!k.isDefault()) {
                b.append("\n[").append(k.text()).append("]\n");
                fields(b, s);
            }
        });
        return b.toString();
    }

    private static void fields(StringBuilder b, DestinationSettings s) {
        put(b, "tls", s.tls() == null ? null : s.tls().name());
        put(b, "max_host_concurrency", s.maxConcurrentConnections());
        put(b, "max_messages_per_connection", s.maxMessagesPerConnection());
        if (s.recipientLimit() != null) {
            if (s.recipientLimit().limited()) {
                put(b, "recipient_limit", s.recipientLimit().recipients());
                put(b, "recipient_minutes", s.recipientLimit().perMinutes());
            } else {
                put(b, "recipient_limit", "none");
            }
        }
        put(b, "limit_type", s.limitsApplyPer() == null ? null : s.limitsApplyPer() == LimitsApplyPer.DOMAIN ? "host" : "MXIP");
        put(b, "limit_apply", s.limitsScope() == null ? null : s.limitsScope() == LimitsScope.SYSTEM ? "system" : "VG");
        put(b, "ip_sort_pref", s.ipPreference() == null ? null : s.ipPreference().applianceName());
        put(b, "bounce_verification", s.bounceVerification() == null ? null : s.bounceVerification() ? "on" : "off");
        put(b, "bounce_profile", s.bounceProfile());
        put(b, "ignore_mta_sts", s.ignoreMtaSts() == null ? null : s.ignoreMtaSts() ? "on" : "off");
        put(b, "ignore_dane", s.ignoreDane() == null ? null : s.ignoreDane() ? "on" : "off");
    }

    private static void put(StringBuilder b, String key, Object v) {
        if (v != null) {
            b.append(key).append(" = ").append(v).append('\n');
        }
    }

    /**
     * Parses a file. The [DEFAULT] section is required; any key it leaves out keeps the
     * factory value. Every problem is reported with its line number.
     */
    public static Result parse(String text) {
        List<LineError> errors = new ArrayList<>();
        Map<DestinationKey, Map<String, String>> sections = new LinkedHashMap<>();
        Map<DestinationKey, Integer> sectionLines = new LinkedHashMap<>();
        Map<String, Integer> keyLines = new LinkedHashMap<>();
        Map<String, String> currentSection = null;
        DestinationKey currentKey = null;
        boolean inBadSection = false;
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            int no = i + 1;
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
                continue;
            }
            if (line.startsWith("[")) {
                currentSection = null;
                inBadSection = true;
                if (!line.endsWith("]") || line.length() < 3) {
                    errors.add(new LineError(no, "malformed section header"));
                    continue;
                }
                String name = line.substring(1, line.length() - 1).strip();
                try {
                    currentKey = name.equals("DEFAULT") ? DestinationKey.DEFAULT : DestinationKey.parse(name);
                    if (!name.equals("DEFAULT") && currentKey.isDefault()) {
                        throw new IllegalArgumentException("the default entry is the [DEFAULT] section");
                    }
                } catch (IllegalArgumentException e) {
                    errors.add(new LineError(no, "bad section key: " + e.getMessage()));
                    continue;
                }
                if (sections.containsKey(currentKey)) {
                    errors.add(new LineError(no, "section [" + currentKey + "] repeats the one on line "
                            + sectionLines.get(currentKey)));
                    continue;
                }
                inBadSection = false;
                currentSection = new LinkedHashMap<>();
                sections.put(currentKey, currentSection);
                sectionLines.put(currentKey, no);
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                errors.add(new LineError(no, "expected 'key = value'"));
                continue;
            }
            if (currentSection == null) {
                if (!inBadSection) {
                    errors.add(new LineError(no, "a setting outside any section"));
                }
                continue; // inside a section whose header was already reported
            }
            String k = line.substring(0, eq).strip().toLowerCase(Locale.ROOT);
            String v = line.substring(eq + 1).strip();
            if (!KEYS.contains(k)) {
                errors.add(new LineError(no, "unknown key '" + k + "'"));
                continue;
            }
            if (currentSection.containsKey(k)) {
                errors.add(new LineError(no, "'" + k + "' repeats in [" + currentKey + "]"));
                continue;
            }
            String problem = checkValue(k, v);
            if (problem != null) {
                errors.add(new LineError(no, k + ": " + problem));
                continue;
            }
            currentSection.put(k, v);
            keyLines.put(currentKey.text() + "\u0000" + k, no);
        }
        if (!sections.containsKey(DestinationKey.DEFAULT) && errors.isEmpty()) {
            errors.add(new LineError(1, "no [DEFAULT] section"));
        }
        Map<DestinationKey, DestinationSettings> table = new LinkedHashMap<>();
        for (Map.Entry<DestinationKey, Map<String, String>> e : sections.entrySet()) {
            try {
                DestinationSettings s = settings(e.getValue());
                if (e.getKey().isDefault()) {
                    s = withFactoryDefaults(s);
                }
                table.put(e.getKey(), s);
            } catch (IllegalArgumentException ex) {
                Map<String, String> sec = e.getValue();
                String k = sec.containsKey("recipient_limit") ? "recipient_limit"
                        : sec.containsKey("recipient_minutes") ? "recipient_minutes" : null;
                Integer line = k == null ? sectionLines.get(e.getKey()) : keyLines.get(e.getKey().text() + "\u0000" + k);
                errors.add(new LineError(line == null ? sectionLines.get(e.getKey()) : line, ex.getMessage()));
            }
        }
        errors.sort((a, b) -> Integer.compare(a.line(), b.line()));
        return errors.isEmpty() ? new Result(table, List.of()) : new Result(Map.of(), errors);
    }

    /** Null when {@code v} is a valid value for {@code k}, else the reason. */
    private static String checkValue(String k, String v) {
        try {
            switch (k) {
                case "tls" -> OutboundTlsMode.valueOf(v);
                case "max_host_concurrency", "max_messages_per_connection" -> intIn(v, 1, 1000);
                case "recipient_limit" -> {
                    if (!v.equalsIgnoreCase("none")) {
                        intIn(v, 0, RecipientLimit.MAX_RECIPIENTS);
                    }
                }
                case "recipient_minutes" -> intIn(v, 1, RecipientLimit.MAX_MINUTES);
                case "limit_type" -> limitType(v);
                case "limit_apply" -> limitApply(v);
                case "ip_sort_pref" -> IpPreference.fromAppliance(v);
                case "bounce_verification", "ignore_mta_sts", "ignore_dane" -> onOff(v);
                case "bounce_profile" -> {
                    if (!DestinationSettings.PROFILE_NAME.matcher(v).matches()) {
                        throw new IllegalArgumentException("not a bounce profile name");
                    }
                }
                default -> throw new IllegalArgumentException("unknown key");
            }
            return null;
        } catch (IllegalArgumentException e) {
            String msg = e.getMessage();
            if (k.equals("tls") && (msg == null || msg.startsWith("No enum"))) {
                return "'" + v + "' is not one of " + Arrays.toString(OutboundTlsMode.values());
            }
            return msg;
        }
    }

    private static DestinationSettings settings(Map<String, String> m) {
        String rl = m.get("recipient_limit");
        String rm = m.get("recipient_minutes");
        RecipientLimit limit = null;
        if (rl != null && rl.equalsIgnoreCase("none")) {
            if (rm != null) {
                throw new IllegalArgumentException("recipient_minutes: not allowed with recipient_limit = none");
            }
            limit = RecipientLimit.NONE;
        } else if (rl != null) {
            if (rm == null) {
                throw new IllegalArgumentException("recipient_limit: needs recipient_minutes in the same section");
            }
            limit = RecipientLimit.of(Integer.parseInt(rl), Integer.parseInt(rm));
        } else if (rm != null) {
            throw new IllegalArgumentException("recipient_minutes: needs recipient_limit in the same section");
        }
        return new DestinationSettings(
                m.containsKey("tls") ? OutboundTlsMode.valueOf(m.get("tls")) : null,
                m.containsKey("max_host_concurrency") ? Integer.valueOf(m.get("max_host_concurrency")) : null,
                m.containsKey("max_messages_per_connection") ? Integer.valueOf(m.get("max_messages_per_connection")) : null,
                limit,
                m.containsKey("limit_type") ? limitType(m.get("limit_type")) : null,
                m.containsKey("limit_apply") ? limitApply(m.get("limit_apply")) : null,
                m.containsKey("ip_sort_pref") ? IpPreference.fromAppliance(m.get("ip_sort_pref")) : null,
                m.containsKey("bounce_verification") ? onOff(m.get("bounce_verification")) : null,
                m.get("bounce_profile"),
                m.containsKey("ignore_mta_sts") ? onOff(m.get("ignore_mta_sts")) : null,
                m.containsKey("ignore_dane") ? onOff(m.get("ignore_dane")) : null);
    }

    private static DestinationSettings withFactoryDefaults(DestinationSettings s) {
        DestinationSettings f = DestinationSettings.FACTORY_DEFAULT;
        return new DestinationSettings(
                s.tls() != null ? s.tls() : f.tls(),
                s.maxConcurrentConnections() != null ? s.maxConcurrentConnections() : f.maxConcurrentConnections(),
                s.maxMessagesPerConnection() != null ? s.maxMessagesPerConnection() : f.maxMessagesPerConnection(),
                s.recipientLimit() != null ? s.recipientLimit() : f.recipientLimit(),
                s.limitsApplyPer() != null ? s.limitsApplyPer() : f.limitsApplyPer(),
                s.limitsScope() != null ? s.limitsScope() : f.limitsScope(),
                s.ipPreference() != null ? s.ipPreference() : f.ipPreference(),
                s.bounceVerification() != null ? s.bounceVerification() : f.bounceVerification(),
                s.bounceProfile() != null ? s.bounceProfile() : f.bounceProfile(),
                s.ignoreMtaSts() != null ? s.ignoreMtaSts() : f.ignoreMtaSts(),
                s.ignoreDane() != null ? s.ignoreDane() : f.ignoreDane());
    }

    private static int intIn(String v, int min, int max) {
        int n;
        try {
            n = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + v + "' is not a whole number");
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(n + " is not between " + min + " and " + max);
        }
        return n;
    }

    private static LimitsApplyPer limitType(String v) {
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "0", "host" -> LimitsApplyPer.DOMAIN;
            case "1", "mxip" -> LimitsApplyPer.MX_IP;
            default -> throw new IllegalArgumentException("'" + v + "' is not one of 0, host, 1, MXIP");
        };
    }

    private static LimitsScope limitApply(String v) {
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "0", "system" -> LimitsScope.SYSTEM;
            case "1", "vg" -> LimitsScope.VIRTUAL_GATEWAY;
            default -> throw new IllegalArgumentException("'" + v + "' is not one of 0, system, 1, VG");
        };
    }

    private static boolean onOff(String v) {
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "on", "yes", "1" -> true;
            case "off", "no", "0" -> false;
            default -> throw new IllegalArgumentException("'" + v + "' is not on or off");
        };
    }
}
