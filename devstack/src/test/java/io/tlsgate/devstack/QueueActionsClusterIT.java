package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.awaitAttempt;
import static io.tlsgate.devstack.DeliveryCluster.dns;
import static io.tlsgate.devstack.DeliveryCluster.domain;
import static io.tlsgate.devstack.DeliveryCluster.enqueue;
import static io.tlsgate.devstack.DeliveryCluster.mailLog;
import static io.tlsgate.devstack.DeliveryCluster.message;
import static io.tlsgate.devstack.DeliveryCluster.peerAddress;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Queue actions ({@code POST /api/v1/queue/actions}) and the queue's filtered, paged listing
 * against the running cluster: retry now, redirect to another host, delete (silently and with
 * a DSN), bounce a domain; each only for recipients still queued, each audited and in the mail
 * log; bad requests refused naming every field.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class QueueActionsClusterIT {

    private static final AtomicInteger SEQ = new AtomicInteger();

    /** A domain of its own (so domain actions touch only this test's mail) whose MX is the peer {@code kind}, under a REQUIRED entry. */
    private static String ownDomain(String kind) {
        String d = "qa" + SEQ.incrementAndGet() + "-" + System.nanoTime() % 100000 + ".required.test";
        dns().mx(d, 10, "mx." + domain(kind, "REQUIRED"));
        return d;
    }

    private static JsonNode act(String json) throws Exception {
        return ClusterApi.JSON.readTree(api().ok("POST", 8083, "/api/v1/queue/actions", json));
    }

    private static JsonNode recipient(long mid, int rid) throws Exception {
        return message(mid).get("recipients").get(rid);
    }

    /** A message to {@code to} at a domain whose peer refuses STARTTLS (REQUIRED: it defers), after its first attempt. */
    private static long deferred(String from, List<String> to) throws Exception {
        long mid = enqueue(from, to, "X-Test: queue actions");
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        for (JsonNode r : m.get("recipients")) {
            assertEquals("QUEUED", r.get("state").asText(), m.toString());
        }
        return mid;
    }

    private static JsonNode awaitState(long mid, int rid, String state, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode r = null;
        while (System.nanoTime() < deadline) {
            r = recipient(mid, rid);
            if (r.get("state").asText().equals(state)) {
                return r;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("MID " + mid + " RID " + rid + " is not " + state + " within " + timeout + ": " + message(mid));
    }

    private static boolean logged(String fragment) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            if (mailLog().stream().anyMatch(l -> l.contains(fragment))) {
                return true;
            }
            Thread.sleep(200);
        }
        return false;
    }

    @Test
    void retryNowMakesTheNextAttemptAtOnceAndIsAudited() throws Exception {
        String d = ownDomain("no-starttls");
        long mid = deferred("qa@sender.test", List.of("a@" + d));
        JsonNode before = recipient(mid, 0);
        assertEquals(1, before.get("attempts").asInt());
        assertTrue(java.time.Instant.parse(before.get("nextAttemptAt").asText()).isAfter(java.time.Instant.now().plusSeconds(1800)),
                "the hourly profile put it an hour away: " + before);

        JsonNode r = act("{\"action\":\"retry\",\"mid\":" + mid + ",\"comment\":\"partner fixed TLS\"}");
        assertEquals("retry", r.get("action").asText());
        assertEquals(1, r.get("recipients").asInt());
        assertEquals(1, r.get("messages").asInt());
        assertEquals(List.of(mid), List.of(r.get("mids").get(0).asLong()));

        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (recipient(mid, 0).get("attempts").asInt() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertEquals(2, recipient(mid, 0).get("attempts").asInt(), "retried at once: " + message(mid));
        assertTrue(logged("MID " + mid + " to RID [0]: retry now, asked by "), "mail log");

        JsonNode audit = api().get(8083, "/api/v1/queue/actions?limit=20");
        JsonNode mine = null;
        for (JsonNode e : audit) {
            if (e.get("id").asLong() == r.get("id").asLong()) {
                mine = e;
            }
        }
        assertTrue(mine != null, audit.toString());
        assertEquals("retry", mine.get("action").asText());
        assertEquals("MID " + mid, mine.get("selector").asText());
        assertEquals("partner fixed TLS", mine.get("comment").asText());
        assertFalse(mine.get("principal").asText().isBlank());
        assertEquals(1, mine.get("recipients").asInt());
    }

    @Test
    void redirectDeliversToTheNamedHostInstead() throws Exception {
        String d = ownDomain("no-starttls");
        long mid = deferred("qa@sender.test", List.of("b@" + d));
        String host = "[" + peerAddress("valid") + "]:" + DeliveryCluster.smtpPort();
        JsonNode r = act("{\"action\":\"redirect\",\"mid\":" + mid + ",\"host\":\"" + host + "\"}");
        assertEquals(1, r.get("recipients").asInt());
        JsonNode done = awaitState(mid, 0, "DELIVERED", Duration.ofSeconds(30));
        assertTrue(done.get("lastReply").asText().startsWith("250"), done.toString());
        JsonNode m = message(mid);
        JsonNode last = m.get("attempts").get(m.get("attempts").size() - 1);
        assertEquals("[" + peerAddress("valid") + "]", last.get("host").asText(), m.toString());
        assertEquals("REQUIRED", last.at("/tls/mode").asText(), "the domain's own TLS mode still applies: " + last);
        assertEquals("success", last.at("/tls/result").asText(), last.toString());
        assertEquals("DONE", m.get("state").asText());
        assertTrue(logged("MID " + mid + " to RID [0]: redirected to " + host), "mail log");
    }

    @Test
    void deleteSilentlyOrWithADsnPerRecipientAndOnlyWhatIsQueued() throws Exception {
        String d = ownDomain("no-starttls");
        long silent = deferred("qa-silent@sender.test", List.of("c@" + d));
        JsonNode r = act("{\"action\":\"delete\",\"mid\":" + silent + "}");
        assertEquals(1, r.get("recipients").asInt());
        JsonNode m = message(silent);
        assertEquals("DELETED", m.at("/recipients/0/state").asText());
        assertEquals("DONE", m.get("state").asText());
        assertTrue(m.at("/recipients/0/lastReply").asText().startsWith("550 5.0.0 deleted from the queue by "), m.toString());
        assertTrue(logged("Deleted: MID " + silent + " to RID [0] by "), "mail log");
        assertTrue(mailLog().stream().noneMatch(l -> l.contains("DSN for MID " + silent + " ")), "no DSN when silent");
        // Nothing left to act on: a second delete changes nothing.
        assertEquals(0, act("{\"action\":\"delete\",\"mid\":" + silent + "}").get("recipients").asInt());

        long two = deferred("qa-dsn@sender.test", List.of("d0@" + d, "d1@" + d));
        JsonNode one = act("{\"action\":\"delete\",\"mid\":" + two + ",\"rids\":[1],\"dsn\":true}");
        assertEquals(1, one.get("recipients").asInt());
        m = message(two);
        assertEquals("QUEUED", m.at("/recipients/0/state").asText(), "RID 0 untouched: " + m);
        assertEquals("DELETED", m.at("/recipients/1/state").asText());
        assertEquals("QUEUED", m.get("state").asText(), "a recipient is still queued");
        assertTrue(logged("DSN for MID " + two + " to 1 recipient(s)"), "a DSN to the sender");
    }

    @Test
    void bounceEveryQueuedRecipientOfADomainWithDsns() throws Exception {
        String d = ownDomain("starttls-454");
        String other = ownDomain("starttls-454");
        long m1 = deferred("qa-b1@sender.test", List.of("e@" + d));
        long m2 = deferred("qa-b2@sender.test", List.of("f@" + d, "g@" + other));
        JsonNode r = act("{\"action\":\"bounce\",\"domain\":\"" + d.toUpperCase() + ".\"}");
        assertEquals(2, r.get("recipients").asInt(), r.toString());
        assertEquals(2, r.get("messages").asInt());
        assertEquals("domain " + d, r.get("selector").asText());
        assertEquals("BOUNCED", recipient(m1, 0).get("state").asText());
        assertEquals("BOUNCED", recipient(m2, 0).get("state").asText());
        assertEquals("QUEUED", recipient(m2, 1).get("state").asText(), "another domain untouched");
        assertEquals("DONE", message(m1).get("state").asText());
        assertTrue(logged("Bounced: DCID 0 MID " + m1 + " to RID [0] - 5.0.0 - bounced by "), "mail log");
        assertTrue(logged("DSN for MID " + m1 + " to 1 recipient(s)") && logged("DSN for MID " + m2 + " to 1 recipient(s)"),
                "a DSN per message");
    }

    @Test
    void theQueueIsListedByStateDomainAgeAndLastErrorAPageAtATime() throws Exception {
        String d = ownDomain("no-starttls");
        List<Long> mids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            mids.add(deferred("qa-list@sender.test", List.of("h" + i + "@" + d)));
        }
        JsonNode all = api().get(8083, "/api/v1/queue?domain=" + d);
        assertEquals(3, all.get("recipients").size(), all.toString());
        assertTrue(all.get("next").isNull(), "one page");
        JsonNode e = all.get("recipients").get(0);
        assertEquals(mids.get(0).longValue(), e.get("mid").asLong());
        assertEquals("QUEUED", e.get("state").asText());
        assertEquals("qa-list@sender.test", e.get("mailFrom").asText());
        assertEquals(d, e.get("domain").asText());
        assertEquals(1, e.get("attempts").asInt());
        assertTrue(e.get("lastReply").asText().startsWith("4"), e.toString());

        JsonNode p1 = api().get(8083, "/api/v1/queue?domain=" + d + "&limit=2");
        assertEquals(2, p1.get("recipients").size());
        assertEquals(mids.get(1) + ":0", p1.get("next").asText());
        JsonNode p2 = api().get(8083, "/api/v1/queue?domain=" + d + "&limit=2&after=" + p1.get("next").asText());
        assertEquals(1, p2.get("recipients").size());
        assertEquals(mids.get(2).longValue(), p2.at("/recipients/0/mid").asLong());
        assertTrue(p2.get("next").isNull());

        String reply = e.get("lastReply").asText();
        String word = reply.substring(reply.length() / 2, Math.min(reply.length(), reply.length() / 2 + 6));
        assertEquals(3, api().get(8083, "/api/v1/queue?domain=" + d + "&lastError=" + java.net.URLEncoder.encode(word.toUpperCase(),
                java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20")).get("recipients").size(), "matched in any case");
        assertEquals(0, api().get(8083, "/api/v1/queue?domain=" + d + "&lastError=no-such-text").get("recipients").size());
        assertEquals(0, api().get(8083, "/api/v1/queue?domain=" + d + "&olderThan=PT1H").get("recipients").size());
        assertEquals(3, api().get(8083, "/api/v1/queue?domain=" + d + "&olderThan=PT0S").get("recipients").size());
        act("{\"action\":\"delete\",\"mid\":" + mids.get(0) + "}");
        assertEquals(2, api().get(8083, "/api/v1/queue?domain=" + d).get("recipients").size(), "QUEUED by default");
        assertEquals(1, api().get(8083, "/api/v1/queue?domain=" + d + "&state=deleted").get("recipients").size());
        assertEquals(3, api().get(8083, "/api/v1/queue?domain=" + d + "&state=ANY").get("recipients").size());

        HttpResponse<String> far = api().send("GET", 8083, "/api/v1/queue?olderThan=P999999999999D", null, null);
        assertEquals(400, far.statusCode(), far.body());
        assertEquals("olderThan", ClusterApi.JSON.readTree(far.body()).at("/errors/0/field").asText());
        HttpResponse<String> bad = api().send("GET", 8083, "/api/v1/queue?state=LOST&olderThan=1h&limit=0&after=x", null, null);
        assertEquals(400, bad.statusCode(), bad.body());
        assertEquals(List.of("state", "olderThan", "after", "limit"),
                ClusterApi.JSON.readTree(bad.body()).get("errors").findValuesAsText("field"));
    }

    @Test
    void badActionsAreRefusedNamingEveryFieldAndChangeNothing() throws Exception {
        assertFields("{}", "action", "mid");
        assertFields("{\"action\":\"purge\",\"mid\":0}", "action", "mid");
        assertFields("{\"action\":\"retry\",\"mid\":1,\"domain\":\"x.test\"}", "domain");
        assertFields("{\"action\":\"retry\",\"domain\":\"x.test\",\"rids\":[0]}", "rids");
        assertFields("{\"action\":\"redirect\",\"mid\":1}", "host");
        assertFields("{\"action\":\"redirect\",\"mid\":1,\"host\":\"a host\"}", "host");
        assertFields("{\"action\":\"retry\",\"mid\":1,\"host\":\"mx.test\",\"dsn\":true}", "dsn", "host");
        assertFields("{\"action\":\"retry\",\"domain\":\"not a domain\",\"when\":\"now\"}", "when", "domain");
        assertFields("{\"action\":\"retry\",\"mid\":1,\"comment\":\"ok\\nFri Dec  4 00:00:00 2026 Info: forged\"}", "comment");
        HttpResponse<String> notJson = api().send("POST", 8083, "/api/v1/queue/actions", "application/json", "retry everything");
        assertEquals(400, notJson.statusCode(), notJson.body());
        assertEquals("body", ClusterApi.JSON.readTree(notJson.body()).at("/errors/0/field").asText());
    }

    private static void assertFields(String body, String... fields) throws Exception {
        HttpResponse<String> r = api().send("POST", 8083, "/api/v1/queue/actions", "application/json", body);
        assertEquals(400, r.statusCode(), body + " -> " + r.body());
        assertEquals("application/problem+json", r.headers().firstValue("Content-Type").orElse(""));
        List<String> got = ClusterApi.JSON.readTree(r.body()).get("errors").findValuesAsText("field");
        for (String f : fields) {
            assertTrue(got.contains(f), body + ": " + f + " named in " + r.body());
        }
    }
}
