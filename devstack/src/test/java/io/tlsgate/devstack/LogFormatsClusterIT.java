package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.SmtpDialogue;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The services started with {@code tlsgate.log.format=json} (a cluster of its own): once the
 * switch is made at startup every line of each service's log is a JSON object, and mail log
 * lines carry their ICID, MID and DCID as fields.
 */
class LogFormatsClusterIT {

    private static final int OFFSET = 7000;
    private static ClusterApi api;

    @BeforeAll
    static void start() throws Exception {
        api = ClusterApi.start("logs", OFFSET, Map.of("TLSGATE_LOG_FORMAT", "json"));
    }

    @AfterAll
    static void stop() throws Exception {
        ClusterApi.closeAll(api);
    }

    /** The service's log lines from the switch on, each parsed as JSON (an assertion error names a line that is not). */
    private static List<JsonNode> json(String service) throws Exception {
        List<String> lines = Files.readAllLines(api.logs().resolve(service + ".log"), StandardCharsets.UTF_8);
        int from = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains("log format json, mail log format tlsgate")) {
                from = i + 1;
                break;
            }
        }
        assertTrue(from > 0, service + ": the switch is logged");
        List<JsonNode> out = new ArrayList<>();
        for (String l : lines.subList(from, lines.size())) {
            if (l.isBlank()) {
                continue;
            }
            try {
                out.add(ClusterApi.JSON.readTree(l));
            } catch (Exception e) {
                throw new AssertionError(service + ": not a JSON line: " + l);
            }
            assertTrue(out.get(out.size() - 1).isObject(), l);
        }
        return out;
    }

    @Test
    void everyLineIsJsonWithTheMailLogsIdsAsFields() throws Exception {
        try (SmtpDialogue d = SmtpDialogue.connect(null, "127.0.0.1", api.port(2525))) {
            d.expect("220*");
            d.send("EHLO logs.test\r\n").reply();
            d.send("QUIT\r\n").expect("221*");
        }
        long mid = ClusterApi.enqueue(api.deliveryChannel(), "logs@sender.test", List.of("r@[127.0.0.1]"),
                "Subject: logs\r\n\r\nhi\r\n".getBytes(StandardCharsets.US_ASCII));

        JsonNode connected = await("listener-service", j -> j.path("message").asText().startsWith("New SMTP ICID "));
        assertEquals("io.tlsgate.maillog", connected.get("logger").asText());
        assertEquals("listener-service", connected.get("service").asText());
        assertEquals("INFO", connected.get("level").asText());
        assertTrue(connected.get("icid").asLong() > 0, connected.toString());
        assertTrue(connected.get("time").asText().endsWith("Z"));

        JsonNode attempt = await("delivery-service", j -> j.path("mid").asLong() == mid && j.has("dcid"));
        assertEquals("io.tlsgate.maillog", attempt.get("logger").asText(), attempt.toString());
        assertTrue(attempt.get("message").asText().contains("MID " + mid), attempt.toString());
        for (String service : List.of("policy-service", "cert-service")) {
            assertTrue(!json(service).isEmpty(), service);
        }
    }

    private static JsonNode await(String service, java.util.function.Predicate<JsonNode> match) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            for (JsonNode j : json(service)) {
                if (match.test(j)) {
                    return j;
                }
            }
            assertTrue(System.nanoTime() < deadline, service + ": no such line in " + json(service));
            Thread.sleep(300);
        }
    }
}
