package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.dns;
import static io.tlsgate.devstack.DeliveryCluster.domain;
import static io.tlsgate.devstack.DeliveryCluster.enqueue;
import static io.tlsgate.devstack.DeliveryCluster.mailLog;
import static io.tlsgate.devstack.DeliveryCluster.message;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Delay warnings in the running cluster: a bounce profile that sends them (every 2 s, at most
 * 2 per recipient) on a domain whose MX refuses STARTTLS under REQUIRED. Each attempt is made
 * at once with the queue's retry action: the first attempt is too early for a warning, the
 * next after the interval warns, one right after it does not, one after another interval warns
 * again, and none after the maximum. Each warning is a DSN from {@code <>} to the sender.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class DelayWarningsClusterIT {

    private static final String PROFILE = "{\"name\":\"warn-fast\",\"maxRetries\":100,\"maxTimeInQueueSeconds\":86400,"
            + "\"initialRetrySeconds\":3600,\"maxRetrySeconds\":3600,\"sendHardBounces\":true,\"sendDelayWarnings\":true,"
            + "\"delayWarningIntervalSeconds\":2,\"maxDelayWarnings\":2}";

    @Test
    void warningsComeAfterTheIntervalAtMostThatOftenAndAtMostTheMaximum() throws Exception {
        api().ok("POST", 8081, "/api/v1/bounce-profiles", PROFILE);
        JsonNode p = api().get(8081, "/api/v1/bounce-profiles/warn-fast");
        assertEquals(2, p.get("delayWarningIntervalSeconds").asInt(), p.toString());
        assertEquals(2, p.get("maxDelayWarnings").asInt());
        String d = "delay-warnings.test";
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + d + "\",\"tls\":\"REQUIRED\",\"bounceProfile\":\"warn-fast\"}");
        dns().mx(d, 10, "mx." + domain("no-starttls", "REQUIRED"));

        long mid = enqueue("waiting@sender.test", "r@" + d, "X-Test: delay warnings");
        attempts(mid, 1);
        assertWarnings(mid, 0, "not before the interval");
        Thread.sleep(2200);
        retry(mid, 2);
        assertWarnings(mid, 1, "a warning once the message waited the interval");
        retry(mid, 3);
        assertWarnings(mid, 1, "not again within the interval");
        Thread.sleep(2200);
        retry(mid, 4);
        assertWarnings(mid, 2, "the second after another interval");
        Thread.sleep(2200);
        retry(mid, 5);
        assertWarnings(mid, 2, "no more than the maximum");

        for (long dsn : warnings(mid)) {
            JsonNode m = message(dsn);
            assertEquals("", m.get("mailFrom").asText(), "from the null sender: " + m);
            assertEquals("waiting@sender.test", m.at("/recipients/0/address").asText());
        }
        assertEquals("QUEUED", message(mid).at("/recipients/0/state").asText(), "still being retried");
    }

    @Test
    void badDelayWarningSettingsAreRefused() throws Exception {
        HttpResponse<String> r = api().send("POST", 8081, "/api/v1/bounce-profiles", "application/json",
                PROFILE.replace("warn-fast", "warn-bad").replace("\"delayWarningIntervalSeconds\":2", "\"delayWarningIntervalSeconds\":0")
                        .replace("\"maxDelayWarnings\":2", "\"maxDelayWarnings\":1000"));
        assertEquals(400, r.statusCode(), r.body());
        assertEquals(List.of("delayWarningIntervalSeconds", "maxDelayWarnings"),
                ClusterApi.JSON.readTree(r.body()).get("errors").findValuesAsText("field"));
    }

    /** The MIDs of the delay-warning DSNs for {@code mid}, from the mail log. */
    private static List<Long> warnings(long mid) throws Exception {
        Pattern p = Pattern.compile("MID (\\d+) delay warning for MID " + mid + " to RID \\[0\\]");
        return mailLog().stream().map(p::matcher).filter(Matcher::find).map(m -> Long.parseLong(m.group(1))).toList();
    }

    private static void retry(long mid, int attempts) throws Exception {
        api().ok("POST", 8083, "/api/v1/queue/actions", "{\"action\":\"retry\",\"mid\":" + mid + "}");
        attempts(mid, attempts);
    }

    /** Waits until the recipient's attempts reach {@code n} (and the mail log has caught up). */
    private static void attempts(long mid, int n) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (message(mid).at("/recipients/0/attempts").asInt() < n) {
            assertTrue(System.nanoTime() < deadline, "attempt " + n + " of MID " + mid + ": " + message(mid));
            Thread.sleep(100);
        }
        assertEquals(n, message(mid).at("/recipients/0/attempts").asInt());
        long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        Pattern delayed = Pattern.compile("Delayed: DCID \\d+ MID " + mid + " ");
        while (mailLog().stream().filter(l -> delayed.matcher(l).find()).count() < n && System.nanoTime() < until) {
            Thread.sleep(100);
        }
    }

    /** Exactly {@code n} warnings: waits for them (each is queued right after its result's commit), then for a stray one. */
    private static void assertWarnings(long mid, int n, String why) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (warnings(mid).size() < n && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        Thread.sleep(500);
        assertEquals(n, warnings(mid).size(), why);
    }
}
