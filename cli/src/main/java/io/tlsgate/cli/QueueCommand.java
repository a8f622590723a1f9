package io.tlsgate.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tlsgate queue}: delivery-service's queue: what is in it, and the queue actions
 * (retry now, delete, bounce, redirect) for a message, some of its recipients or a domain.
 */
@Command(name = "queue", mixinStandardHelpOptions = true,
        description = "The delivery queue: what is queued and why; retry, delete, bounce or redirect queued mail.",
        subcommands = {QueueCommand.Show.class, QueueCommand.Retry.class, QueueCommand.Delete.class, QueueCommand.Bounce.class,
            QueueCommand.Redirect.class, QueueCommand.Actions.class})
final class QueueCommand extends Group {

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = {"Without MID: messages and recipients by state, and queued recipients by domain.",
                "With MID: the message's envelope, each recipient's state and every delivery attempt with its TLS facts."})
    static final class Show extends ApiCommand {
        @Parameters(paramLabel = "MID", arity = "0..1", description = "A message ID (as in the mail log's MID)")
        String mid;

        @Option(names = "--json", description = "The API's answer as JSON.")
        boolean json;

        @Option(names = "--state", paramLabel = "STATE", description = "Recipients listed: QUEUED (default), DELIVERED, BOUNCED, "
                + "DELETED or ANY.")
        String state;

        @Option(names = "--domain", paramLabel = "DOMAIN", description = "Only recipients at this domain.")
        String domain;

        @Option(names = "--older-than", paramLabel = "DURATION", description = "Only messages received at least this long ago "
                + "(ISO-8601: PT30M, PT6H, P2D).")
        String olderThan;

        @Option(names = "--last-error", paramLabel = "TEXT", description = "Only recipients whose last reply contains TEXT.")
        String lastError;

        @Option(names = "--limit", paramLabel = "N", description = "Recipients per page, 1-1000 (default 100).")
        Integer limit;

        @Option(names = "--after", paramLabel = "MID:RID", description = "The next page: the value the previous page printed.")
        String after;

        @Override
        public Integer call() {
            if (mid == null) {
                summary(api().json(Service.DELIVERY, "GET", "/api/v1/queue" + Api.query("state", state, "domain", domain,
                        "olderThan", olderThan, "lastError", lastError, "limit", limit == null ? null : limit.toString(),
                        "after", after), null));
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
            out().println();
            Table rcpts = new Table("MID", "RID", "RECIPIENT", "STATE", "FROM", "RECEIVED", "ATTEMPTS", "NEXT ATTEMPT", "LAST REPLY");
            for (JsonNode r : q.path("recipients")) {
                rcpts.row(r.path("mid").asText(), r.path("rid").asText(), r.path("address").asText(), r.path("state").asText()
                        + (r.hasNonNull("redirectHost") ? " (to " + r.get("redirectHost").asText() + ")" : ""),
                        "<" + r.path("mailFrom").asText() + ">", r.path("receivedAt").asText(), r.path("attempts").asText(),
                        Values.text(r.path("nextAttemptAt")), Values.text(r.path("lastReply")));
            }
            rcpts.print(out());
            if (q.hasNonNull("next")) {
                out().println("more: --after " + q.get("next").asText());
                out().flush();
            }
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

    /** What a queue action applies to: one message (some of its recipients), or a domain. */
    static final class Target {
        @Parameters(paramLabel = "MID", arity = "0..1", description = "The message")
        Long mid;

        @Option(names = "--rid", paramLabel = "RID", description = "Only this recipient of the message (repeat for more).")
        List<Integer> rids = new ArrayList<>();

        @Option(names = "--domain", paramLabel = "DOMAIN", description = "Every queued recipient at this domain instead of one message.")
        String domain;

        @Option(names = "--comment", paramLabel = "TEXT", description = "Why: kept with the action's record.")
        String comment;

        ObjectNode body(String action) {
            if ((mid == null) == (domain == null)) {
                throw CliException.usage("give a MID or --domain, not " + (mid == null ? "neither" : "both"));
            }
            if (!rids.isEmpty() && mid == null) {
                throw CliException.usage("--rid goes with a MID");
            }
            ObjectNode b = Api.object();
            b.put("action", action);
            if (mid != null) {
                b.put("mid", mid);
            }
            if (!rids.isEmpty()) {
                rids.forEach(b.putArray("rids")::add);
            }
            if (domain != null) {
                b.put("domain", domain);
            }
            if (comment != null) {
                b.put("comment", comment);
            }
            return b;
        }
    }

    /** Sends one queue action and prints what it did. */
    abstract static class ActionCommand extends ApiCommand {
        @Mixin
        Target target;

        int act(ObjectNode body) {
            JsonNode r = api().json(Service.DELIVERY, "POST", "/api/v1/queue/actions", body);
            out().println(r.path("action").asText() + " " + r.path("selector").asText() + ": " + r.path("recipients").asInt()
                    + " recipient(s) of " + r.path("messages").asInt() + " message(s)"
                    + (r.path("inFlight").asInt() > 0 ? ", " + r.path("inFlight").asInt()
                            + " being delivered right now (that attempt may still deliver them)" : "")
                    + " (action " + r.path("id").asText() + ")");
            out().flush();
            return 0;
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = "Makes queued recipients due now (the retry schedule goes on from there).")
    static final class Retry extends ActionCommand {
        @Override
        public Integer call() {
            return act(target.body("retry"));
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Removes queued recipients: silently, or with --dsn a failure notice to the sender.")
    static final class Delete extends ActionCommand {
        @Option(names = "--dsn", description = "Tell the sender (a delivery status notification).")
        boolean dsn;

        @Override
        public Integer call() {
            ObjectNode b = target.body("delete");
            if (dsn) {
                b.put("dsn", true);
            }
            return act(b);
        }
    }

    @Command(name = "bounce", mixinStandardHelpOptions = true,
            description = "Returns queued recipients to the sender now (a failure DSN; none for the null sender).")
    static final class Bounce extends ActionCommand {
        @Override
        public Integer call() {
            return act(target.body("bounce"));
        }
    }

    @Command(name = "redirect", mixinStandardHelpOptions = true,
            description = "Delivers queued recipients to another host instead of the domain's MX hosts or route, now.")
    static final class Redirect extends ActionCommand {
        @Option(names = "--host", paramLabel = "HOST", required = true,
                description = "host, host:port, [address] or [address]:port")
        String host;

        @Override
        public Integer call() {
            ObjectNode b = target.body("redirect");
            b.put("host", host);
            return act(b);
        }
    }

    @Command(name = "actions", mixinStandardHelpOptions = true, description = "The queue actions taken, newest first.")
    static final class Actions extends ApiCommand {
        @Option(names = "--limit", paramLabel = "N", description = "How many, 1-1000 (default 20).")
        int limit = 20;

        @Option(names = "--json", description = "The API's answer as JSON.")
        boolean json;

        @Override
        public Integer call() {
            JsonNode all = api().json(Service.DELIVERY, "GET", "/api/v1/queue/actions?limit=" + limit, null);
            if (json) {
                Values.printJson(out(), all);
                return 0;
            }
            Table t = new Table("ID", "AT", "BY", "ACTION", "ON", "DETAIL", "RECIPIENTS", "COMMENT");
            for (JsonNode a : all) {
                t.row(a.path("id").asText(), a.path("at").asText(), a.path("principal").asText(), a.path("action").asText(),
                        a.path("selector").asText(), Values.text(a.path("detail")), a.path("recipients").asText(),
                        Values.text(a.path("comment")));
            }
            t.print(out());
            return 0;
        }
    }
}
