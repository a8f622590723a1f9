package io.tlsgate.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tlsgate check}: delivery-service's TLS check. Progress goes to standard error as the
 * hosts are probed; the table and verdicts (or {@code --json}, the whole report) to standard
 * output. Exit 4 when the judged mode's verdict is that the mail would not go (defer, bounce).
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Checks how a delivery to a domain or address would go over TLS, host by host.",
            "DNS, connect, greeting, EHLO, STARTTLS, handshake, certificates, names, MTA-STS, DANE and a MAIL FROM/RCPT TO "
                + "probe (never DATA); a verdict for each outbound mode."})
final class CheckCommand extends ApiCommand {

    @Parameters(paramLabel = "DOMAIN|ADDRESS", description = "A domain, or an IPv4/IPv6 address")
    String target;

    @Option(names = "--port", paramLabel = "N", description = "Port of the MX hosts or of the address (default: the delivery's, 25).")
    Integer port;

    @Option(names = "--timeout-seconds", paramLabel = "N", description = "The check's time limit (default 60).")
    Integer timeoutSeconds;

    @Option(names = "--mode", paramLabel = "MODE", completionCandidates = DestCommand.Modes.class,
            description = "The outbound mode the headline verdict and exit code are for (default: the rules a delivery applies now).")
    String mode;

    @Option(names = "--recipient", paramLabel = "ADDRESS", description = "RCPT TO of the probe (default postmaster@DOMAIN).")
    String recipient;

    @Option(names = "--json", description = "Print the whole report as JSON (no table).")
    boolean json;

    @Option(names = {"-q", "--quiet"}, description = "No progress lines.")
    boolean quiet;

    @Override
    public Integer call() {
        ObjectNode body = Api.object();
        body.put("target", target);
        if (port != null) {
            body.put("port", port);
        }
        if (timeoutSeconds != null) {
            body.put("timeoutSeconds", timeoutSeconds);
        }
        if (mode != null && !mode.equals("default")) {
            body.put("mode", mode);
        }
        if (recipient != null) {
            body.put("recipient", recipient);
        }
        JsonNode[] report = new JsonNode[1];
        PrintWriter err = err();
        api().events(Service.DELIVERY, "/api/v1/tls-check", body, e -> {
            JsonNode data = parse(e.data());
            switch (e.name()) {
                case "progress" -> {
                    if (!quiet) {
                        err.println("  " + data.path("host").asText() + "  " + data.path("step").asText() + "  "
                                + data.path("ms").asLong() + " ms  " + Values.text(data.path("detail")));
                        err.flush();
                    }
                }
                case "result" -> report[0] = data;
                case "error" -> throw Api.refused(Service.DELIVERY, new Api.Reply(data.path("status").asInt(500),
                        "application/problem+json", Api.bytes(data)));
                default -> { }
            }
        });
        if (report[0] == null) {
            throw new CliException(CliException.UNAVAILABLE, "delivery-service ended the check without a result");
        }
        JsonNode r = report[0];
        if (json) {
            Values.printJson(out(), r);
        } else {
            print(out(), r);
        }
        String outcome = r.path("verdict").path("outcome").asText();
        return outcome.startsWith("deliver") ? 0 : CliException.WOULD_NOT_DELIVER;
    }

    private static JsonNode parse(String data) {
        try {
            return Api.JSON.readTree(data);
        } catch (IOException e) {
            throw new CliException(CliException.UNAVAILABLE, "delivery-service sent an event that is not JSON: " + e.getMessage());
        }
    }

    /** The report as an operator reads it: what applies, one row per host, the verdicts. */
    static void print(PrintWriter out, JsonNode r) {
        JsonNode d = r.path("destination");
        out.println(r.path("target").asText() + ": destination entry " + d.path("matchedKey").asText() + " ("
                + d.path("mode").asText() + ")" + ", checked in " + r.path("elapsedMs").asLong() + " ms"
                + (r.path("timedOut").asBoolean() ? ", TIME LIMIT REACHED: some hosts were not probed" : ""));
        JsonNode dns = r.path("dns");
        if (!dns.isMissingNode() && !dns.isNull()) {
            out.println("DNS: " + (dns.hasNonNull("error") ? dns.get("error").asText()
                    : (dns.path("implicitMx").asBoolean() ? "no MX, the domain itself" : dns.path("mx").size() + " MX")
                    + (!dns.path("secure").asBoolean() ? ", not DNSSEC-secure (no DANE)"
                            : dns.path("daneApplied").asBoolean() ? ", DNSSEC-secure (DANE applies)" : ", DNSSEC-secure")));
        }
        JsonNode sts = r.path("mtaSts");
        out.println("MTA-STS: " + (sts.isNull() || sts.isMissingNode() ? "none"
                : sts.path("mode").asText() + ", mx " + Values.text(sts.path("mx"))));
        out.println();
        Table t = new Table("HOST", "ADDRESS", "STARTTLS", "TLS", "CERTIFICATE", "NAMES", "SCORE");
        List<String> notes = new ArrayList<>();
        for (JsonNode h : r.path("hosts")) {
            String host = h.path("name").asText() + (h.hasNonNull("preference") ? " (" + h.get("preference").asText() + ")" : "");
            String starttls = !h.path("starttlsOffered").asBoolean() ? (h.path("ehlo").isEmpty() ? "-" : "not offered")
                    : h.hasNonNull("starttlsReply") ? "offered, " + h.get("starttlsReply").asText().split(" ", 2)[0] : "offered";
            JsonNode tls = h.path("tls");
            String tlsText = tls.isNull() || tls.isMissingNode() ? "-" : tls.path("protocol").asText() + " "
                    + tls.path("cipher").asText() + (tls.hasNonNull("keyExchange") ? " " + tls.get("keyExchange").asText() : "");
            JsonNode leaf = h.path("certificates").path(0);
            String cert = leaf.isMissingNode() ? "-" : leaf.path("verdict").asText();
            List<String> names = new ArrayList<>();
            for (JsonNode n : h.path("names")) {
                names.add((n.path("matches").asBoolean() ? "" : "!") + n.path("name").asText());
            }
            t.row(host, h.path("address").asText() + ":" + h.path("port").asText(), starttls, tlsText, cert,
                    names.isEmpty() ? "-" : String.join(" ", names), h.path("score").asText());
            if (h.hasNonNull("error")) {
                notes.add(h.path("name").asText() + ": " + h.get("error").asText());
            }
            if (!leaf.isMissingNode() && !leaf.path("verdict").asText().equals("ok")) {
                notes.add(h.path("name").asText() + ": certificate " + leaf.path("verdict").asText() + ": "
                        + leaf.path("reason").asText());
            }
            if (h.hasNonNull("tlsa")) {
                notes.add(h.path("name").asText() + ": DANE " + h.get("tlsa").path("kind").asText() + ", requires "
                        + h.get("tlsa").path("requires").asText());
            }
        }
        if (r.path("hosts").isEmpty()) {
            out.println("no host to probe");
        } else {
            t.print(out);
            out.println("(NAMES: names the certificate must match; ! = it does not)");
        }
        for (String n : notes) {
            out.println("  " + n);
        }
        out.println();
        out.println("Verdicts:");
        for (JsonNode v : r.path("verdicts")) {
            out.println("  " + v.path("text").asText());
        }
        JsonNode v = r.path("verdict");
        out.println();
        out.println("=> " + v.path("text").asText());
        if (r.hasNonNull("error")) {
            out.println("error: " + r.get("error").asText());
        }
        out.flush();
    }
}
