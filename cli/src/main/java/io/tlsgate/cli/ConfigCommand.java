package io.tlsgate.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tlsgate config}: the whole configuration of policy-service, or cert-service's
 * assignments and trusted CAs by reference, as one JSON document out and in (docs/operations.md).
 */
@Command(name = "config", mixinStandardHelpOptions = true,
        description = "The whole configuration as a JSON document: export it, check an import, import it all or nothing.",
        subcommands = {ConfigCommand.Export.class, ConfigCommand.Import.class})
final class ConfigCommand extends Group {

    private static final String BASE = "/api/v1/config";

    /** Which service's part: {@code policy} (the default) or {@code cert}. */
    enum Part {
        policy(Service.POLICY), cert(Service.CERT);

        final Service service;

        Part(Service service) {
            this.service = service;
        }
    }

    @Command(name = "export", mixinStandardHelpOptions = true,
            description = "Writes the configuration of policy-service (or, with --part cert, cert-service's assignments and "
                    + "trusted CAs by reference).")
    static final class Export extends ApiCommand {
        @Option(names = "--part", paramLabel = "PART", description = "policy (default) or cert.")
        Part part = Part.policy;

        @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write to FILE instead of standard output.")
        Path output;

        @Override
        public Integer call() {
            byte[] doc = api().send(part.service, "GET", BASE + "/export", null, null, "application/json", Map.of()).body();
            if (output != null) {
                Values.write(output, doc);
                err().println("wrote " + output);
                err().flush();
            } else {
                out().println(new String(doc, StandardCharsets.UTF_8));
                out().flush();
            }
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "Makes the configuration what FILE says, all or nothing (every problem is listed, nothing changes "
                    + "then); --validate-only checks it and changes nothing. Needs an admin token.")
    static final class Import extends ApiCommand {
        @Parameters(paramLabel = "FILE", description = "A document as export writes it, or - for standard input")
        String file;

        @Option(names = "--part", paramLabel = "PART", description = "policy (default) or cert.")
        Part part = Part.policy;

        @Option(names = "--validate-only", description = "Check only: say what would change.")
        boolean validateOnly;

        @Option(names = "--comment", paramLabel = "TEXT", description = "Why: kept in the audit log.")
        String comment;

        @Override
        public Integer call() {
            byte[] doc = Values.read(file);
            JsonNode r = api().send(part.service, "POST", BASE + "/import" + (validateOnly ? "?validateOnly=true" : ""),
                    "application/json", doc, "application/json", comment == null ? Map.of() : Map.of("X-Change-Comment", comment))
                    .json();
            if (r.has("sections")) {
                Table t = new Table("SECTION", "CREATED", "UPDATED", "UNCHANGED", "DELETED");
                for (Iterator<Map.Entry<String, JsonNode>> it = r.get("sections").fields(); it.hasNext();) {
                    Map.Entry<String, JsonNode> e = it.next();
                    t.row(e.getKey(), e.getValue().path("created").asText(), e.getValue().path("updated").asText(),
                            e.getValue().path("unchanged").asText(), e.getValue().path("deleted").asText());
                }
                t.print(out());
                r.path("warnings").forEach(w -> out().println("warning: " + w.asText()));
            } else {
                out().println("assignments: " + r.path("assigned").asInt() + " assigned, " + r.path("unassigned").asInt()
                        + " unassigned, " + r.path("unchanged").asInt() + " unchanged; trusted CAs: " + r.path("casKept").asInt()
                        + " kept, " + r.path("casRemoved").asInt() + " removed");
            }
            out().println(validateOnly ? "checked: nothing was changed" : r.path("changed").asBoolean() ? "imported"
                    : "imported: nothing needed changing");
            out().flush();
            return 0;
        }
    }
}
