package io.tlsgate.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tlsgate queue}: delivery-service's queue. Read-only for now: delivery-service has no
 * queue actions yet (retry, delete, bounce, redirect), so neither has the command line.
 */
@Command(name = "queue", mixinStandardHelpOptions = true,
        description = "The delivery queue: counts by state, queued recipients by domain, one message's recipients and attempts.",
        subcommands = {QueueCommand.Show.class})
final class QueueCommand extends Group {

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = {"Without MID: messages and recipients by state, and queued recipients by domain.",
                "With MID: the message's envelope, each recipient's state and every delivery attempt with its TLS facts."})
    static final class Show extends ApiCommand {
        @Parameters(paramLabel = "MID", arity = "0..1", description = "A message ID (as in the mail log's MID)")
        String mid;

        @Option(names = "--json", description = "The API's answer as JSON.")
        boolean json;

        @Override
        public Integer call() {
            if (mid == null) {
                summary(api().json(Service.DELIVERY, "GET", "/api/v1/queue", null));
            } else {
                message(api().json(Service.DELIVERY, "GET", "/api/v1/messages/" + Api.encode(mid), null));
            }
            return 0;
        }

        private void summary(JsonNode q) {
            if (json) {
                Values.printJson(out(), q);
                return;
            }
            Table states = new Table("STATE", "MESSAGES", "RECIPIENTS");
            java.util.Set<String> names = new java.util.TreeSet<>();
            q.path("messagesByState").fieldNames().forEachRemaining(names::add);
            q.path("recipientsByState").fieldNames().forEachRemaining(names::add);
            for (String s : names) {
                states.row(s, q.path("messagesByState").path(s).asLong(0), q.path("recipientsByState").path(s).asLong(0));
            }
            states.print(out());
            out().println();
            Table domains = new Table("DOMAIN", "QUEUED RECIPIENTS", "NEXT ATTEMPT");
            for (JsonNode d : q.path("queuedByDestination")) {
                domains.row(d.path("domain").asText(), d.path("recipients").asLong(), Values.text(d.path("nextAttemptAt")));
            }
            domains.print(out());
        }

        private void message(JsonNode m) {
            if (json) {
                Values.printJson(out(), m);
                return;
            }
            out().println("MID " + m.path("mid").asText() + " from <" + m.path("mailFrom").asText() + ">, " + m.path("size").asText()
                    + " bytes, ICID " + m.path("icid").asText() + " on " + m.path("listener").asText() + ", received "
                    + m.path("receivedAt").asText() + ", " + m.path("state").asText());
            if (m.hasNonNull("tlsRequest")) {
                out().println("TLS request: " + m.get("tlsRequest"));
            }
            out().println();
            Table rcpts = new Table("RID", "RECIPIENT", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST REPLY");
            for (JsonNode r : m.path("recipients")) {
                rcpts.row(r.path("rid").asText(), r.path("address").asText(), r.path("state").asText(), r.path("attempts").asText(),
                        Values.text(r.path("nextAttemptAt")), Values.text(r.path("lastReply")));
            }
            rcpts.print(out());
            out().println();
            Table attempts = new Table("DCID", "AT", "HOST", "ADDRESS", "TLS", "OUTCOME", "REPLY");
            for (JsonNode a : m.path("attempts")) {
                JsonNode tls = a.path("tls");
                String t = tls.isMissingNode() || tls.isNull() ? "-" : tls.path("mode").asText() + " " + tls.path("result").asText()
                        + (tls.hasNonNull("protocol") ? " " + tls.get("protocol").asText() : "")
                        + (tls.hasNonNull("failure") ? " (" + tls.get("failure").asText() + ")" : "");
                attempts.row(a.path("dcid").asText(), a.path("at").asText(), a.path("host").asText(),
                        a.path("ip").asText() + (a.hasNonNull("port") ? ":" + a.get("port").asText() : ""), t,
                        a.path("outcome").asText(), Values.text(a.path("reply")));
            }
            attempts.print(out());
        }
    }
}
