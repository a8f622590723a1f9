package io.tlsgate.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tlsgate dest}: the destination controls (outbound TLS policy) in policy-service. */
@Command(name = "dest", mixinStandardHelpOptions = true,
        description = "Destination controls: which TLS mode and limits apply to a recipient domain or next hop.",
        subcommands = {DestCommand.ListEntries.class, DestCommand.Show.class, DestCommand.New.class, DestCommand.Edit.class,
            DestCommand.Delete.class, DestCommand.Resolve.class, DestCommand.Import.class, DestCommand.Export.class})
final class DestCommand extends Group {

    static final String BASE = "/api/v1/destinations";

    /** Candidates for --tls (shell completion and help). */
    static final class Modes extends ArrayList<String> {
        Modes() {
            super(List.of("NONE", "PREFERRED", "REQUIRED", "PREFERRED_VERIFY", "REQUIRED_VERIFY",
                    "REQUIRED_VERIFY_HOSTED_DOMAINS", "default"));
        }
    }

    static String path(String key) {
        // CIDR keys keep their '/' (the API takes 192.0.2.0/24 as it is); everything else is one segment.
        return BASE + "/" + Api.encode(key).replace("%2F", "/");
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Lists every entry with the appliance's summary columns.")
    static final class ListEntries extends ApiCommand {
        @Option(names = "--json", description = "The API's rows as JSON.")
        boolean json;

        @Override
        public Integer call() {
            JsonNode rows = api().json(Service.POLICY, "GET", BASE, null);
            if (json) {
                Values.printJson(out(), rows);
                return 0;
            }
            Table t = new Table("DOMAIN", "RATE LIMITING", "TLS", "BOUNCE VERIFICATION", "BOUNCE PROFILE", "IP VERSION PREFERENCE");
            for (JsonNode r : rows) {
                boolean dflt = r.path("key").asText().equals("default");
                t.row(dflt ? "(Default)" : r.path("key").asText(), rateLimit(r.path("recipientLimit")),
                        inherited(r.path("tls").asText()), onOff(r.path("bounceVerification")),
                        dflt ? r.path("bounceProfile").asText() : inherited(r.path("bounceProfile").asText()),
                        ipPreference(r.path("ipPreference").asText()));
            }
            t.print(out());
            return 0;
        }

        static String rateLimit(JsonNode v) {
            if (v.isObject()) {
                return v.path("recipients").asText() + " per " + v.path("perMinutes").asText() + " min";
            }
            return v.asText().equals("none") ? "Off" : inherited(v.asText());
        }

        static String onOff(JsonNode v) {
            return v.isBoolean() ? (v.asBoolean() ? "On" : "Off") : inherited(v.asText());
        }

        static String ipPreference(String v) {
            return switch (v) {
                case "IPV6_PREFERRED" -> "Prefer IPv6";
                case "IPV4_PREFERRED" -> "Prefer IPv4";
                case "IPV6_ONLY" -> "IPv6 only";
                case "IPV4_ONLY" -> "IPv4 only";
                default -> inherited(v);
            };
        }

        static String inherited(String v) {
            return v.equals("default") ? "Default" : v;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Shows one entry ('default' for the default entry).")
    static final class Show extends ApiCommand {
        @Parameters(paramLabel = "KEY", description = "example.com, .example.com, 192.0.2.10, 192.0.2.0/24 or default")
        String key;

        @Option(names = "--json", description = "The entry as JSON.")
        boolean json;

        @Override
        public Integer call() {
            JsonNode e = api().json(Service.POLICY, "GET", path(key), null);
            if (json) {
                Values.printJson(out(), e);
            } else {
                Values.printFields(out(), e);
            }
            return 0;
        }
    }

    /** The fields of an entry as options; each may be "default" (use the default entry's value). */
    static final class Fields {
        @Option(names = "--tls", paramLabel = "MODE", completionCandidates = Modes.class,
                description = "TLS mode: ${COMPLETION-CANDIDATES}.")
        String tls;

        @Option(names = "--max-concurrency", paramLabel = "N", description = "Concurrent connections, 1-1000, or default.")
        String maxConcurrentConnections;

        @Option(names = "--max-messages", paramLabel = "N", description = "Messages per connection, 1-1000, or default.")
        String maxMessagesPerConnection;

        @Option(names = "--recipient-limit", paramLabel = "N/MIN|none",
                description = "Recipients per minutes, e.g. 1000/60; none; or default.")
        String recipientLimit;

        @Option(names = "--limits-per", paramLabel = "DOMAIN|MX_IP", description = "Apply limits per DOMAIN or per MX_IP, or default.")
        String limitsApplyPer;

        @Option(names = "--limits-scope", paramLabel = "SYSTEM|VIRTUAL_GATEWAY", description = "SYSTEM, VIRTUAL_GATEWAY or default.")
        String limitsScope;

        @Option(names = "--ip-preference", paramLabel = "PREF",
                description = "IPV6_PREFERRED, IPV4_PREFERRED, IPV6_ONLY, IPV4_ONLY or default.")
        String ipPreference;

        @Option(names = "--bounce-verification", paramLabel = "on|off", description = "on, off or default.")
        String bounceVerification;

        @Option(names = "--bounce-profile", paramLabel = "NAME", description = "A bounce profile, or default.")
        String bounceProfile;

        @Option(names = "--ignore-mta-sts", paramLabel = "on|off", description = "Do not apply the domain's MTA-STS policy: on, off or default.")
        String ignoreMtaSts;

        @Option(names = "--ignore-dane", paramLabel = "on|off", description = "Do not apply the domain's DANE records: on, off or default.")
        String ignoreDane;

        @Option(names = "--comment", paramLabel = "TEXT", description = "Why: kept in the audit log.")
        String comment;

        private static final Pattern LIMIT = Pattern.compile("(\\d{1,10})\\s*/\\s*(\\d{1,2})");

        /** The fields given, as the API's JSON (values the API will check; nothing is judged here). */
        ObjectNode json() {
            ObjectNode o = Api.object();
            text(o, "tls", tls);
            number(o, "maxConcurrentConnections", maxConcurrentConnections);
            number(o, "maxMessagesPerConnection", maxMessagesPerConnection);
            if (recipientLimit != null) {
                Matcher m = LIMIT.matcher(recipientLimit.strip());
                if (m.matches()) {
                    ObjectNode l = o.putObject("recipientLimit");
                    l.put("recipients", Long.parseLong(m.group(1)));
                    l.put("perMinutes", Integer.parseInt(m.group(2)));
                } else {
                    o.put("recipientLimit", recipientLimit);
                }
            }
            text(o, "limitsApplyPer", limitsApplyPer);
            text(o, "limitsScope", limitsScope);
            text(o, "ipPreference", ipPreference);
            bool(o, "bounceVerification", bounceVerification);
            text(o, "bounceProfile", bounceProfile);
            bool(o, "ignoreMtaSts", ignoreMtaSts);
            bool(o, "ignoreDane", ignoreDane);
            return o;
        }

        Map<String, String> headers() {
            return comment == null ? Map.of() : Map.of("X-Change-Comment", comment);
        }

        private static void text(ObjectNode o, String field, String v) {
            if (v != null) {
                o.put(field, v);
            }
        }

        private static void number(ObjectNode o, String field, String v) {
            if (v != null) {
                try {
                    o.put(field, Integer.parseInt(v.strip()));
                } catch (NumberFormatException e) {
                    o.put(field, v);
                }
            }
        }

        private static void bool(ObjectNode o, String field, String v) {
            if (v != null) {
                switch (v.strip().toLowerCase(java.util.Locale.ROOT)) {
                    case "on", "true", "yes" -> o.put(field, true);
                    case "off", "false", "no" -> o.put(field, false);
                    default -> o.put(field, v);
                }
            }
        }
    }

    @Command(name = "new", mixinStandardHelpOptions = true,
            description = "Creates an entry; fields left out use the default entry's values.")
    static final class New extends ApiCommand {
        @Parameters(paramLabel = "KEY", description = "example.com, .example.com (subdomains), 192.0.2.10 or 192.0.2.0/24")
        String key;

        @Mixin
        Fields fields;

        @Override
        public Integer call() {
            ObjectNode body = Api.object();
            body.put("key", key);
            body.setAll(fields.json());
            JsonNode e = api().send(Service.POLICY, "POST", BASE, "application/json", Api.bytes(body), "application/json",
                    fields.headers()).json();
            out().println("created " + e.path("key").asText());
            Values.printFields(out(), e);
            return 0;
        }
    }

    @Command(name = "edit", mixinStandardHelpOptions = true,
            description = "Changes the fields given and keeps the others ('default' edits the default entry).")
    static final class Edit extends ApiCommand {
        @Parameters(paramLabel = "KEY", description = "The entry's key, or default")
        String key;

        @Mixin
        Fields fields;

        @Override
        public Integer call() {
            ObjectNode changes = fields.json();
            if (changes.isEmpty()) {
                throw CliException.usage("nothing to change: give at least one field option (--tls, --max-concurrency, ...)");
            }
            ObjectNode body;
            if (key.equalsIgnoreCase("default")) {
                // The default entry's PUT changes the fields it names and keeps the others.
                body = changes;
            } else {
                // Other entries' PUT replaces the whole entry: start from what it is now.
                body = (ObjectNode) api().json(Service.POLICY, "GET", path(key), null);
                body.remove("key");
                body.remove("kind");
                body.setAll(changes);
            }
            JsonNode e = api().send(Service.POLICY, "PUT", path(key), "application/json", Api.bytes(body), "application/json",
                    fields.headers()).json();
            out().println("changed " + e.path("key").asText());
            Values.printFields(out(), e);
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Deletes entries; --all deletes every entry but default.")
    static final class Delete extends ApiCommand {
        @Parameters(paramLabel = "KEY", arity = "0..*", description = "The entries' keys")
        List<String> keys = new ArrayList<>();

        @Option(names = "--all", description = "Delete every entry but default.")
        boolean all;

        @Option(names = "--comment", paramLabel = "TEXT", description = "Why: kept in the audit log.")
        String comment;

        @Override
        public Integer call() {
            Map<String, String> headers = comment == null ? Map.of() : Map.of("X-Change-Comment", comment);
            if (all == !keys.isEmpty()) {
                throw CliException.usage(all ? "give either keys or --all, not both" : "give the keys to delete, or --all");
            }
            if (all) {
                JsonNode r = api().send(Service.POLICY, "DELETE", BASE, null, null, "application/json", headers).json();
                out().println("deleted " + r.path("deleted").asInt() + " entries");
            } else {
                for (String k : keys) {
                    api().send(Service.POLICY, "DELETE", path(k), null, null, "application/json", headers);
                    out().println("deleted " + k);
                }
            }
            out().flush();
            return 0;
        }
    }

    @Command(name = "resolve", mixinStandardHelpOptions = true,
            description = "Which settings apply to a recipient domain and/or next hop, and which entry supplied each.")
    static final class Resolve extends ApiCommand {
        @Parameters(paramLabel = "DOMAIN", arity = "0..1", description = "The recipient domain")
        String domain;

        @Option(names = "--ip", paramLabel = "ADDRESS", description = "The next hop's address")
        String ip;

        @Option(names = "--json", description = "The API's answer as JSON.")
        boolean json;

        @Override
        public Integer call() {
            JsonNode r = api().json(Service.POLICY, "GET", BASE + "/resolve" + Api.query("domain", domain, "ip", ip), null);
            if (json) {
                Values.printJson(out(), r);
                return 0;
            }
            out().println("matched: " + r.path("matched").asText());
            Table t = new Table("FIELD", "VALUE", "FROM");
            for (Iterator<Map.Entry<String, JsonNode>> it = r.path("values").fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> e = it.next();
                t.row(e.getKey(), Values.text(e.getValue()), r.path("sources").path(e.getKey()).asText());
            }
            t.print(out());
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "Replaces the whole table from an INI file (the appliance's destconfig keys), all or nothing.")
    static final class Import extends ApiCommand {
        @Parameters(paramLabel = "FILE", description = "The INI file, or - for standard input")
        String file;

        @Option(names = "--comment", paramLabel = "TEXT", description = "Why: kept in the audit log.")
        String comment;

        @Override
        public Integer call() {
            byte[] ini = Values.read(file);
            JsonNode r = api().send(Service.POLICY, "POST", BASE + "/import", "text/plain; charset=UTF-8", ini, "application/json",
                    comment == null ? Map.of() : Map.of("X-Change-Comment", comment)).json();
            out().println("imported " + r.path("entries").asInt() + " entries (policy version " + r.path("version").asLong() + ")");
            out().flush();
            return 0;
        }
    }

    @Command(name = "export", mixinStandardHelpOptions = true, description = "Writes the whole table as an INI file.")
    static final class Export extends ApiCommand {
        @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write to FILE instead of standard output.")
        Path output;

        @Override
        public Integer call() {
            byte[] ini = api().send(Service.POLICY, "GET", BASE + "/export", null, null, "text/plain", Map.of()).body();
            if (output != null) {
                Values.write(output, ini);
                err().println("wrote " + output);
                err().flush();
            } else {
                out().print(new String(ini, StandardCharsets.UTF_8));
                out().flush();
            }
            return 0;
        }
    }
}
