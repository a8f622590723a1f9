package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.awaitAttempt;
import static io.tlsgate.devstack.DeliveryCluster.context;
import static io.tlsgate.devstack.DeliveryCluster.enqueue;
import static io.tlsgate.devstack.DeliveryCluster.issued;
import static io.tlsgate.devstack.DeliveryCluster.kafka;
import static io.tlsgate.devstack.DeliveryCluster.message;
import static io.tlsgate.devstack.DeliveryCluster.mx;
import static io.tlsgate.devstack.DeliveryCluster.peerAddress;
import static io.tlsgate.devstack.DeliveryCluster.smtpPort;
import static io.tlsgate.devstack.DeliveryCluster.stack;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.KafkaRecords;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The queue of the {@link DeliveryCluster} under load and trouble: messages for one domain
 * sharing connections, mail flowing while Kafka is down, and a kill -9 with a thousand
 * messages queued.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class DeliveryQueueClusterIT {

    /**
     * Connection reuse through the cluster: 200 messages for one domain whose entry allows 50
     * per connection all arrive over TLS, never more than 50 on one connection. How many
     * connections depends on how the workers' claims cut the 200 while they trickle in (an
     * idle connection waits in the pool for the next claim, but claims may also run at once);
     * with a backlog, 50 a connection: DomainDeliveryTest shows 200 over exactly 4.
     */
    @Test
    void messagesForOneDomainShareConnections() throws Exception {
        String domain = "reuse.test";
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + domain
                + "\",\"tls\":\"REQUIRED\",\"maxMessagesPerConnection\":50,\"bounceProfile\":\"it\"}");
        InetAddress address = InetAddress.getByName("127.0.2.11");
        mx(domain, address.getHostAddress());
        SSLContext ctx = context(issued(TestPki.Spec.server("mx." + domain, "mx." + domain)), false, false);
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("reuse", ctx), address, smtpPort())) {
            List<Long> mids = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                mids.add(enqueue("sender@origin.test", "user" + i + "@" + domain, "X-Seq: " + i));
            }
            for (long mid : mids) {
                assertEquals("DONE", awaitAttempt(mid, Duration.ofSeconds(120)).get("state").asText(), "MID " + mid);
            }
            // A connection counts when it ends: idle ones say QUIT after tlsgate.delivery.connection-idle.
            List<Integer> perConnection = peer.messagesPerConnection();
            long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (perConnection.stream().mapToInt(Integer::intValue).sum() < 200 && System.nanoTime() < until) {
                Thread.sleep(200);
                perConnection = peer.messagesPerConnection();
            }
            System.out.println("reuse.test: messages per connection " + perConnection);
            assertEquals(200, peer.received().size());
            assertTrue(peer.received().stream().allMatch(ScriptedSmtpPeer.Received::tls), "every message over TLS");
            assertEquals(200, perConnection.stream().mapToInt(Integer::intValue).sum(), perConnection.toString());
            assertTrue(perConnection.stream().allMatch(n -> n <= 50), "at most 50 per connection: " + perConnection);
        }
    }

    /**
     * Kafka stopped: mail keeps flowing; when the broker is back the buffered outcome events
     * arrive, one for each connection the messages went over. (An idle connection used again for
     * a later claim makes no event of its own, so a message can travel on a connection whose
     * event names only an earlier message: the events are matched by DCID.)
     */
    @Test
    void mailFlowsWhileKafkaIsDownAndTheEventsFollow() throws Exception {
        // The valid peer, PREFERRED (.preferred.test); not valid.preferred.test, which is the golden table's.
        String domain = "kafka-down.preferred.test";
        mx(domain, peerAddress("valid"));
        stack().stopKafka();
        List<Long> mids = new ArrayList<>();
        Set<Long> dcids = new HashSet<>();
        try {
            for (int i = 0; i < 10; i++) {
                mids.add(enqueue("sender@origin.test", "user" + i + "@" + domain, "X-Row: kafka-down " + i));
            }
            for (long mid : mids) {
                JsonNode m = awaitAttempt(mid, Duration.ofSeconds(120));
                assertEquals("DONE", m.get("state").asText(), "delivered while Kafka is down: " + m);
                dcids.add(m.get("attempts").get(0).get("dcid").asLong());
            }
        } finally {
            stack().startKafka();
        }
        List<ConsumerRecord<String, byte[]>> outcomes = KafkaRecords.readUntil(kafka(), "tlsgate.tls-outcomes",
                rs -> seen(rs, domain, "dcid").containsAll(dcids), Duration.ofSeconds(120));
        assertTrue(seen(outcomes, domain, "dcid").containsAll(dcids), "buffered events after Kafka came back: saw connections "
                + seen(outcomes, domain, "dcid") + " (MIDs " + seen(outcomes, domain, "mids") + "), wanted " + dcids + " (MIDs "
                + mids + ")");
    }

    /**
     * The outbox (docs/events.md): Kafka is stopped while 500 messages meet a REQUIRED-TLS
     * failure (a peer without STARTTLS), and delivery-service is killed with kill -9 once in
     * between. Every connection whose result was recorded (every DCID in the messages'
     * attempts) has its outcome event on the topic once Kafka is back, each domain its first
     * alert; an event sent twice carries the same id, and no two events share one.
     */
    @Test
    void outcomesAndAlertsWrittenWhileKafkaIsDownSurviveAKillMinus9() throws Exception {
        List<String> domains = List.of("outbox1.required.test", "outbox2.required.test", "outbox3.required.test",
                "outbox4.required.test", "outbox5.required.test");
        for (String d : domains) {
            mx(d, peerAddress("no-starttls"));
        }
        List<Long> mids = new ArrayList<>();
        stack().stopKafka();
        boolean killed = false;
        try {
            for (int i = 0; i < 500; i++) {
                mids.add(enqueue("sender@origin.test", "user" + i + "@" + domains.get(i % domains.size()), "X-Outbox: " + i));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!killed && System.nanoTime() < deadline) {
                if (attempted(mids.subList(0, 150)) >= 100) {
                    stack().service("delivery-service").kill();
                    killed = true;
                }
                Thread.sleep(200);
            }
            assertTrue(killed, "delivery-service was killed mid-way");
        } finally {
            stack().restart("delivery-service");
        }
        Set<Long> dcids = new HashSet<>();
        for (long mid : mids) {
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(180));
            m.get("attempts").forEach(a -> dcids.add(a.get("dcid").asLong()));
            assertEquals("QUEUED", m.get("state").asText(), "REQUIRED without STARTTLS defers: " + m);
        }
        stack().startKafka();

        List<ConsumerRecord<String, byte[]>> outcomes = KafkaRecords.readUntil(kafka(), "tlsgate.tls-outcomes",
                rs -> dcidsOf(rs, domains).containsAll(dcids), Duration.ofSeconds(180));
        Set<Long> missing = new HashSet<>(dcids);
        missing.removeAll(dcidsOf(outcomes, domains));
        assertEquals(Set.of(), missing, "connections whose outcome event never reached Kafka (of " + dcids.size() + ")");
        List<ConsumerRecord<String, byte[]>> alerts = KafkaRecords.readUntil(kafka(), "tlsgate.tls-alerts",
                rs -> rs.stream().map(ConsumerRecord::key).collect(Collectors.toSet()).containsAll(domains), Duration.ofSeconds(60));
        for (String d : domains) {
            assertTrue(alerts.stream().anyMatch(r -> d.equals(r.key())), "the first required-TLS alert for " + d);
        }
        List<ConsumerRecord<String, byte[]>> ours = new ArrayList<>(outcomes.stream().filter(r -> domains.contains(r.key())).toList());
        ours.addAll(alerts.stream().filter(r -> domains.contains(r.key())).toList());
        Map<String, Set<String>> valuesById = new java.util.HashMap<>();
        for (ConsumerRecord<String, byte[]> r : ours) {
            valuesById.computeIfAbsent(KafkaRecords.header(r, "ce_id"), k -> new HashSet<>())
                    .add(new String(r.value(), StandardCharsets.UTF_8));
        }
        assertTrue(valuesById.values().stream().allMatch(v -> v.size() == 1), "one event per id: " + valuesById.entrySet().stream()
                .filter(e -> e.getValue().size() > 1).findFirst().orElse(null));
        Set<Long> eventDcids = new HashSet<>();
        for (Set<String> v : valuesById.values()) {
            JsonNode o = ClusterApi.JSON.readTree(v.iterator().next());
            if (o.has("dcid")) {
                assertTrue(eventDcids.add(o.get("dcid").asLong()), "one outcome event (id) per connection: " + o);
            }
        }
    }

    /** How many of {@code mids} have a delivery attempt recorded. */
    private static int attempted(List<Long> mids) throws Exception {
        int n = 0;
        for (long mid : mids) {
            if (message(mid).get("attempts").size() > 0) {
                n++;
            }
        }
        return n;
    }

    private static Set<Long> dcidsOf(List<ConsumerRecord<String, byte[]>> rs, List<String> domains) {
        Set<Long> out = new HashSet<>();
        for (String d : domains) {
            out.addAll(seen(rs, d, "dcid"));
        }
        return out;
    }

    /**
     * kill -9 of delivery-service with 1,000 messages queued and in flight: after a restart
     * every message is delivered; duplicates only for the ones that were in flight.
     */
    @Test
    void killMinus9WithAThousandMessagesLosesNone() throws Exception {
        String domain = "bulk.none.test";
        InetAddress address = InetAddress.getByName("127.0.2.1");
        mx(domain, address.getHostAddress());
        try (ScriptedSmtpPeer bulk = new ScriptedSmtpPeer(Script.tls("bulk", null).noStarttls(), address, smtpPort())) {
            // Queue all 1,000 first (scheduler off), then let it run and kill it mid-way.
            boolean asConfigured = false; // whether delivery-service runs with its own settings now
            int atKill;
            List<Long> mids = new ArrayList<>();
            try {
                stack().restart("delivery-service", Map.of("TLSGATE_DELIVERY_SCHEDULER_ENABLED", "false"));
                for (int i = 0; i < 1000; i++) {
                    mids.add(enqueue("sender@origin.test", "user@" + domain, "X-Seq: " + i));
                }
                assertEquals(0, bulk.received().size());
                stack().restart("delivery-service");
                asConfigured = true;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (bulk.received().size() < 150 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                stack().service("delivery-service").kill();
                asConfigured = false;
                atKill = bulk.received().size();
                assertTrue(atKill >= 150 && atKill < 1000, "killed mid-way: " + atKill + " delivered at the kill");
            } finally {
                if (!asConfigured) {
                    stack().restart("delivery-service");
                }
            }

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
            JsonNode queue = null;
            while (System.nanoTime() < deadline) {
                queue = api().get(8083, "/api/v1/queue");
                if (queued(queue, domain) == 0) {
                    break;
                }
                Thread.sleep(500);
            }
            assertNotNull(queue);
            assertEquals(0, queued(queue, domain), "all delivered after the restart: " + queue);
            Map<String, Long> seen = bulk.received().stream()
                    .map(x -> seq(new String(x.data(), StandardCharsets.US_ASCII)))
                    .collect(Collectors.groupingBy(s -> s, Collectors.counting()));
            List<String> missing = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                if (!seen.containsKey(String.valueOf(i))) {
                    missing.add(String.valueOf(i));
                }
            }
            assertTrue(missing.isEmpty(), "lost: " + missing);
            long duplicates = bulk.received().size() - 1000L;
            System.out.printf("kill -9 test: %d delivered before the kill, %d received in all, %d duplicates%n", atKill,
                    bulk.received().size(), duplicates);
            // Only work claimed by the killed replica can come twice: at most a claim batch per worker.
            assertTrue(duplicates <= 8 * 50, duplicates + " duplicates");
            for (long mid : List.of(mids.get(0), mids.get(999))) {
                assertEquals("DONE", message(mid).get("state").asText());
            }
        }
    }

    /** The numbers in {@code field} (a number or an array of them) of the events with the key {@code domain}. */
    private static Set<Long> seen(List<ConsumerRecord<String, byte[]>> rs, String domain, String field) {
        Set<Long> out = new HashSet<>();
        for (ConsumerRecord<String, byte[]> r : rs) {
            if (domain.equals(r.key())) {
                try {
                    JsonNode n = ClusterApi.JSON.readTree(r.value()).get(field);
                    if (n.isArray()) {
                        n.forEach(x -> out.add(x.asLong()));
                    } else {
                        out.add(n.asLong());
                    }
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return out;
    }

    /** Recipients of {@code domain} still queued, from GET /api/v1/queue. */
    private static long queued(JsonNode queue, String domain) {
        for (JsonNode d : queue.path("queuedByDestination")) {
            if (domain.equals(d.path("domain").asText())) {
                return d.path("recipients").asLong();
            }
        }
        return 0;
    }

    private static String seq(String data) {
        Matcher m = Pattern.compile("X-Seq: (\\d+)\r\n").matcher(data);
        return m.find() ? m.group(1) : "?";
    }
}
