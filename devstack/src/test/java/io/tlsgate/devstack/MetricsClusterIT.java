package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.awaitAttempt;
import static io.tlsgate.devstack.DeliveryCluster.dns;
import static io.tlsgate.devstack.DeliveryCluster.domain;
import static io.tlsgate.devstack.DeliveryCluster.enqueue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.SmtpDialogue;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The services' metrics at {@code /q/metrics} after real traffic in the running cluster:
 * deliveries by result, outbound TLS outcomes by mode and RFC 8460 result, alerts, the queue's
 * depth, age and disk use (delivery-service); sessions, STARTTLS, rejections and inbound TLS
 * outcomes (listener-service). Every series is checked to grow by what the traffic did.
 */
@ExtendWith(DeliveryCluster.Shared.class)
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
class MetricsClusterIT {

    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([^}]*)\\})? (\\S+)$");

    /** The sum of the samples of {@code name} whose labels include all of {@code labels}. */
    static double value(String text, String name, Map<String, String> labels) {
        double sum = 0;
        for (String line : text.split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (!m.matches() || !m.group(1).equals(name)) {
                continue;
            }
            String l = m.group(3) == null ? "" : m.group(3);
            if (labels.entrySet().stream().allMatch(e -> l.contains(e.getKey() + "=\"" + e.getValue() + "\""))) {
                sum += Double.parseDouble(m.group(4));
            }
        }
        return sum;
    }

    static String scrape(int basePort) throws Exception {
        HttpResponse<String> r = api().send("GET", basePort, "/q/metrics", null, null);
        assertEquals(200, r.statusCode());
        return r.body();
    }

    private static String domainWithMx(String kind, String mode) {
        String d = "metrics-" + kind + "-" + System.nanoTime() % 1_000_000 + "." + DeliveryCluster.label(mode) + ".test";
        dns().mx(d, 10, "mx." + domain(kind, mode));
        return d;
    }

    @Test
    @org.junit.jupiter.api.Order(1)
    void deliveryCountsDeliveriesTlsOutcomesAlertsAndTheQueue() throws Exception {
        String before = scrape(8083);
        String ok = domainWithMx("valid", "REQUIRED");
        String fails = domainWithMx("no-starttls", "REQUIRED");
        long delivered = enqueue("metrics@sender.test", "a@" + ok, "X-Test: metrics");
        long deferred = enqueue("metrics@sender.test", "b@" + fails, "X-Test: metrics");
        assertEquals("DELIVERED", awaitAttempt(delivered, Duration.ofSeconds(60)).at("/recipients/0/state").asText());
        assertEquals("QUEUED", awaitAttempt(deferred, Duration.ofSeconds(60)).at("/recipients/0/state").asText());

        String after = awaitScrape(8083, text -> value(text, "tlsgate_queue_recipients", Map.of("state", "waiting")) >= 1,
                Duration.ofSeconds(40));
        assertGrew(before, after, "tlsgate_deliveries_total", Map.of("result", "delivered"), 1);
        assertGrew(before, after, "tlsgate_deliveries_total", Map.of("result", "deferred"), 1);
        assertGrew(before, after, "tlsgate_tls_outcomes_total",
                Map.of("direction", "outbound", "mode", "REQUIRED", "result", "success", "result_type", "none"), 1);
        assertGrew(before, after, "tlsgate_tls_outcomes_total", Map.of("direction", "outbound", "mode", "REQUIRED", "result",
                "failure", "result_type", "starttls-not-supported"), 1);
        assertGrew(before, after, "tlsgate_tls_alerts_total", Map.of("direction", "outbound", "reason", "starttls-not-supported"), 1);
        assertTrue(value(after, "tlsgate_queue_oldest_seconds", Map.of("state", "waiting")) > 0, "oldest waiting recipient's age");
        for (String table : List.of("message", "recipient", "attempt")) {
            assertTrue(value(after, "tlsgate_queue_disk_bytes", Map.of("table", table)) > 0, table + " on disk");
        }
        // Low cardinality: no domain, host or address in any label.
        for (String line : after.split("\n")) {
            assertTrue(!line.startsWith("tlsgate_") || !(line.contains(ok) || line.contains(fails) || line.contains("127.0.")), line);
        }
    }

    @Test
    @org.junit.jupiter.api.Order(2)
    void listenerCountsSessionsStarttlsRejectionsAndInboundTlsOutcomes() throws Exception {
        String before = scrape(8084);
        try (SmtpDialogue d = SmtpDialogue.connect(null, "127.0.0.1", api().port(2525))) {
            d.expect("220*");
            d.send("EHLO metrics.test\r\n").reply();
            d.send("STARTTLS\r\n").expect("220*");
            d.startTls();
            d.send("EHLO metrics.test\r\n").reply();
            d.send("MAIL FROM:<m@metrics.test>\r\n").expect("250*");
            d.send("RCPT TO:<nobody@not-in-the-rat.test>\r\n").expect("5*");
            d.send("QUIT\r\n").expect("221*");
        }
        String after = awaitScrape(8084, text -> grew(before, text, "tlsgate_tls_outcomes_total",
                Map.of("direction", "inbound", "result", "success"), 1), Duration.ofSeconds(20));
        assertGrew(before, after, "tlsgate_listener_sessions_total", Map.of("listener", "inbound"), 1);
        assertGrew(before, after, "tlsgate_listener_starttls_total", Map.of("listener", "inbound", "result", "success"), 1);
        assertGrew(before, after, "tlsgate_listener_rejections_total", Map.of("listener", "inbound", "reason", "relay-denied"), 1);
        assertGrew(before, after, "tlsgate_tls_outcomes_total", Map.of("direction", "inbound", "result", "success",
                "result_type", "none"), 1);
    }

    /**
     * Every tlsgate metric the example Grafana dashboard queries is one the services serve
     * (after the traffic above: a labelled counter appears with its first event).
     */
    @Test
    @org.junit.jupiter.api.Order(3)
    void theDashboardUsesOnlyMetricsTheServicesServe() throws Exception {
        java.nio.file.Path file = java.nio.file.Path.of(System.getProperty("tlsgate.root", "..")).toAbsolutePath().normalize()
                .resolve("deploy/grafana/tlsgate-dashboard.json");
        com.fasterxml.jackson.databind.JsonNode dashboard = ClusterApi.JSON.readTree(java.nio.file.Files.readString(file));
        java.util.Set<String> used = new java.util.TreeSet<>();
        for (com.fasterxml.jackson.databind.JsonNode panel : dashboard.get("panels")) {
            for (com.fasterxml.jackson.databind.JsonNode t : panel.get("targets")) {
                Matcher m = Pattern.compile("tlsgate_[a-z_]+").matcher(t.get("expr").asText());
                while (m.find()) {
                    used.add(m.group());
                }
            }
        }
        assertTrue(used.size() >= 10, used.toString());
        java.util.Set<String> served = new java.util.HashSet<>();
        for (int port : List.of(8081, 8082, 8083, 8084)) {
            for (String line : scrape(port).split("\n")) {
                Matcher m = SAMPLE.matcher(line);
                if (m.matches()) {
                    served.add(m.group(1));
                }
            }
        }
        List<String> missing = used.stream().filter(n -> !served.contains(n)).toList();
        assertTrue(missing.isEmpty(), "the dashboard queries metrics no service serves: " + missing);
    }

    private static boolean grew(String before, String after, String name, Map<String, String> labels, double by) {
        return value(after, name, labels) - value(before, name, labels) >= by;
    }

    private static void assertGrew(String before, String after, String name, Map<String, String> labels, double by) {
        assertTrue(grew(before, after, name, labels, by), name + labels + ": " + value(before, name, labels) + " -> "
                + value(after, name, labels) + "\n" + after.lines().filter(l -> l.startsWith(name)).toList());
    }

    private static String awaitScrape(int port, java.util.function.Predicate<String> ready, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String text = scrape(port);
        while (!ready.test(text) && System.nanoTime() < deadline) {
            Thread.sleep(500);
            text = scrape(port);
        }
        return text;
    }
}
