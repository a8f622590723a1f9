package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.ScriptedSmtpPeer;
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
 * A cluster of its own, started with settings an operator changes: {@code tlsgate.log.format=json}
 * (once the switch is made at startup every line of each service's log is a JSON object, and
 * mail log lines carry their ICID, MID and DCID as fields) and a short content retention
 * (a finished message loses its content, later its records).
 */
class LogFormatsClusterIT {

    private static final int OFFSET = 7000;
    private static ClusterApi api;

    @BeforeAll
    static void start() throws Exception {
        api = ClusterApi.start("logs", OFFSET, Map.of("TLSGATE_LOG_FORMAT", "json",
                "TLSGATE_DELIVERY_RETENTION_CONTENT", "1s", "TLSGATE_DELIVERY_RETENTION_INTERVAL", "1s",
                "TLSGATE_DELIVERY_MX_LOCAL_ADDRESSES", "true", "TLSGATE_DELIVERY_POLL_INTERVAL", "200ms"));
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

    /**
     * Retention against the running cluster: a delivered message's content is removed once
     * {@code retention.content} (1 s here) has passed, its record stays; once it looks finished
     * longer ago than {@code retention.records} (30 days, so its finish time is moved back in
     * the database) the message is gone; the disk gauge is there.
     */
    @Test
    void finishedMessagesLoseTheirContentThenTheirRecords() throws Exception {
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("retention", null).noStarttls())) {
            api.ok("POST", 8081, "/api/v1/smtp-routes", "{\"domain\":\"retention.test\",\"hops\":[\"127.0.0.1:" + peer.port() + "\"]}");
            long mid = ClusterApi.enqueue(api.deliveryChannel(), "keep@sender.test", List.of("r@retention.test"),
                    "Subject: retention\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            JsonNode m = api.get(8083, "/api/v1/messages/" + mid);
            while (!m.hasNonNull("contentRemovedAt") && System.nanoTime() < deadline) {
                Thread.sleep(300);
                m = api.get(8083, "/api/v1/messages/" + mid);
            }
            assertEquals("DELIVERED", m.at("/recipients/0/state").asText(), m.toString());
            assertEquals(1, peer.received().size());
            assertTrue(m.hasNonNull("finishedAt") && m.hasNonNull("contentRemovedAt"), m.toString());
            assertTrue(!java.time.Instant.parse(m.get("contentRemovedAt").asText())
                    .isBefore(java.time.Instant.parse(m.get("finishedAt").asText()).plusSeconds(1)), m.toString());

            try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:postgresql://localhost:" + api.port(15432)
                    + "/tlsgate", "tlsgate", api.secrets().dbPassword());
                    java.sql.PreparedStatement ps = c.prepareStatement(
                            "update delivery.message set finished_at = now() - interval '31 days' where mid = ?")) {
                ps.setLong(1, mid);
                assertEquals(1, ps.executeUpdate());
            }
            int status = 200;
            deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (status != 404 && System.nanoTime() < deadline) {
                Thread.sleep(300);
                status = api.send("GET", 8083, "/api/v1/messages/" + mid, null, null).statusCode();
            }
            assertEquals(404, status, "the records of a message finished 31 days ago are deleted");
            String metrics = ClusterApi.ok(api.send("GET", 8083, "/q/metrics", null, null));
            assertTrue(metrics.lines().anyMatch(l -> l.startsWith("tlsgate_queue_disk_bytes{") && l.contains("table=\"message\"")),
                    "the disk gauge");
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
