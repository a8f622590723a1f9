package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import io.tlsgate.testkit.TestDnsServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Destination limits and isolation with three delivery-service replicas on one PostgreSQL:
 * a destination that never answers holds only its own connections; maxConcurrentConnections
 * holds for the whole cluster (SYSTEM) through a replica's kill -9, and per replica
 * (VIRTUAL_GATEWAY); recipientLimit paces recipients. The peers count their open sessions.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LimitsClusterIT {

    private static final int OFFSET = 5000;
    private static final Pattern SEQ = Pattern.compile("X-Seq: (\\d+)\r\n");

    private static ClusterApi api;
    private static TestDnsServer dns;
    private static int smtpPort;
    private static ManagedChannel delivery;
    private static final List<ChildProcess> REPLICAS = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void cluster() throws Exception {
        dns = new TestDnsServer();
        smtpPort = ClusterApi.freePort("127.0.3.1");
        Map<String, String> env = ClusterApi.outboundEnv(dns.address(), smtpPort);
        env.put("TLSGATE_DELIVERY_LEASE", "15s");
        // A killed replica's connection slots come free after this: short so the test is quick.
        env.put("TLSGATE_DELIVERY_SLOT_LEASE", "6s");
        api = ClusterApi.start("limits", OFFSET, env);
        for (int i = 1; i <= 2; i++) {
            REPLICAS.add(api.stack().replica("delivery-service", "delivery-service-" + i, 8083 + 100 * i, Map.of()));
        }
        // No retry within the test: a failed delivery waits an hour.
        api.hourlyRetryProfile("it");
        delivery = api.deliveryChannel();
    }

    @AfterAll
    static void down() throws Exception {
        ClusterApi.closeAll(delivery == null ? null : delivery::shutdownNow, api, dns);
    }

    /**
     * 60 messages for a domain whose MX accepts TCP and never says a word, one message per
     * connection: a replica opens its initial window of 5 connections (slow start; without it,
     * one per message), they wait for a greeting, and another domain's
     * messages are all delivered meanwhile (eight waiting connections would have held every
     * worker thread before).
     */
    @Test
    @Order(1)
    void aDestinationThatNeverAnswersHoldsOnlyItsOwnConnections() throws Exception {
        entry("hang.test", "\"maxMessagesPerConnection\":1");
        try (Silent hang = new Silent(InetAddress.getByName("127.0.3.1"), smtpPort);
                ScriptedSmtpPeer healthy = new ScriptedSmtpPeer(Script.tls("healthy", null).noStarttls(),
                        InetAddress.getByName("127.0.3.2"), smtpPort)) {
            mx("hang.test", "127.0.3.1");
            mx("healthy.test", "127.0.3.2");
            for (int i = 0; i < 60; i++) {
                enqueue("user@hang.test", i);
            }
            await(() -> hang.accepted() >= 5, Duration.ofSeconds(60), () -> "connections to the silent MX: " + hang.accepted());
            Instant start = Instant.now();
            for (int i = 0; i < 20; i++) {
                enqueue("user@healthy.test", i);
            }
            await(() -> healthy.received().size() == 20, Duration.ofSeconds(30),
                    () -> "delivered to the healthy domain: " + healthy.received().size());
            System.out.printf("silent MX holds %d connections; 20 messages to another domain delivered in %d ms%n",
                    hang.accepted(), Duration.between(start, Instant.now()).toMillis());
            // A replica that claimed hang.test work opens 5 connections (its initial window) and
            // keeps the rest waiting; without slow start one claim of 50 would open 50.
            assertTrue(hang.accepted() >= 5 && hang.accepted() <= 15,
                    "slow start: at most 5 connections from each of 3 replicas while none answers: " + hang.accepted());
        }
    }

    /**
     * maxConcurrentConnections 2 for the whole cluster: 1,000 messages, 10 per connection, go
     * out through three replicas, one of which is killed with kill -9 mid-way; the peer never
     * sees more than 2 sessions at once, and every message arrives.
     */
    @Test
    @Order(2)
    void aClusterWideConnectionLimitHoldsThroughAKillMinus9() throws Exception {
        entry("system.test", "\"maxConcurrentConnections\":2,\"maxMessagesPerConnection\":10,\"limitsScope\":\"SYSTEM\"");
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("system", null).noStarttls(),
                InetAddress.getByName("127.0.3.3"), smtpPort).dataDelay(Duration.ofMillis(5))) {
            mx("system.test", "127.0.3.3");
            for (int i = 0; i < 1000; i++) {
                enqueue("user@system.test", i);
            }
            await(() -> peer.received().size() >= 300, Duration.ofSeconds(120), () -> "received: " + peer.received().size());
            REPLICAS.get(1).kill();
            int atKill = peer.received().size();
            await(() -> seqs(peer).size() == 1000, Duration.ofSeconds(240),
                    () -> "distinct messages received: " + seqs(peer).size() + " of 1000");
            System.out.printf("SYSTEM limit 2: %d received at the kill, %d in all, at most %d sessions at once%n", atKill,
                    peer.received().size(), peer.maxConcurrentConnections());
            assertTrue(atKill < 1000, "killed mid-way: " + atKill);
            assertTrue(peer.maxConcurrentConnections() <= 2, "sessions at once: " + peer.maxConcurrentConnections());
            assertEquals(2, peer.maxConcurrentConnections(), "the limit is used, not just respected");
        }
    }

    /**
     * maxConcurrentConnections 2 per replica (VIRTUAL_GATEWAY): three replicas (the killed one
     * replaced) may hold 2 each, never more.
     */
    @Test
    @Order(3)
    void aPerReplicaConnectionLimitHoldsOnEachReplica() throws Exception {
        if (!REPLICAS.get(1).isAlive()) {
            REPLICAS.set(1, api.stack().replica("delivery-service", "delivery-service-3", 8083 + 300, Map.of()));
        }
        entry("replica.test", "\"maxConcurrentConnections\":2,\"maxMessagesPerConnection\":10,\"limitsScope\":\"VIRTUAL_GATEWAY\"");
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("replica", null).noStarttls(),
                InetAddress.getByName("127.0.3.4"), smtpPort).dataDelay(Duration.ofMillis(20))) {
            mx("replica.test", "127.0.3.4");
            for (int i = 0; i < 300; i++) {
                enqueue("user@replica.test", i);
            }
            await(() -> seqs(peer).size() == 300, Duration.ofSeconds(120),
                    () -> "distinct messages received: " + seqs(peer).size() + " of 300");
            int replicas = (int) (1 + REPLICAS.stream().filter(ChildProcess::isAlive).count());
            System.out.printf("VIRTUAL_GATEWAY limit 2 on %d replicas: at most %d sessions at once%n", replicas,
                    peer.maxConcurrentConnections());
            assertTrue(peer.maxConcurrentConnections() <= 2 * replicas, "sessions at once: " + peer.maxConcurrentConnections());
            assertTrue(peer.maxConcurrentConnections() > 2, "counted per replica, not for the cluster: "
                    + peer.maxConcurrentConnections());
        }
    }

    /** recipientLimit 60 per minute: 40 single-recipient messages arrive one a second (within 10%). */
    @Test
    @Order(4)
    void aRecipientLimitPacesTheRecipients() throws Exception {
        entry("rate.test", "\"recipientLimit\":{\"recipients\":60,\"perMinutes\":1},\"limitsScope\":\"SYSTEM\"");
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("rate", null).noStarttls(),
                InetAddress.getByName("127.0.3.5"), smtpPort)) {
            mx("rate.test", "127.0.3.5");
            for (int i = 0; i < 40; i++) {
                enqueue("user@rate.test", i);
            }
            await(() -> peer.received().size() >= 31, Duration.ofSeconds(90), () -> "received: " + peer.received().size());
            List<Instant> at = peer.received().stream().map(ScriptedSmtpPeer.Received::at).sorted().toList();
            double seconds = Duration.between(at.get(0), at.get(30)).toMillis() / 1000.0;
            double perMinute = 30 / seconds * 60;
            System.out.printf("recipientLimit 60/min: 30 recipients after the first in %.1f s = %.1f per minute%n", seconds,
                    perMinute);
            assertTrue(perMinute >= 54 && perMinute <= 66, "measured " + perMinute + " per minute");
            List<String> log = new java.util.ArrayList<>();
            for (String replica : List.of("delivery-service", "delivery-service-1", "delivery-service-2", "delivery-service-3")) {
                try {
                    log.addAll(api.mailLog(replica));
                } catch (java.nio.file.NoSuchFileException notStarted) {
                    // that replica never ran
                }
            }
            assertTrue(log.stream().anyMatch(l -> l.startsWith("Delayed: DCID 0 MID ")
                    && l.contains("4.4.5 - recipient limit reached: 60 per 1 minute(s) to rate.test")),
                    "a mail-log line says the limit held work back");
        }
    }

    // --- helpers

    private static void entry(String domain, String fields) throws Exception {
        api.ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + domain + "\",\"bounceProfile\":\"it\"," + fields + "}");
    }

    private static void mx(String domain, String ip) {
        dns.mx(domain, 10, "mx." + domain).address("mx." + domain, ip);
    }

    private static void enqueue(String to, int seq) {
        byte[] body = ("From: <sender@origin.test>\r\nTo: <" + to + ">\r\nSubject: limits\r\nX-Seq: " + seq + "\r\n\r\nbody\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        ClusterApi.enqueue(delivery, "sender@origin.test", List.of(to), body);
    }

    private static Set<String> seqs(ScriptedSmtpPeer peer) {
        Set<String> out = new HashSet<>();
        for (ScriptedSmtpPeer.Received r : peer.received()) {
            Matcher m = SEQ.matcher(new String(r.data(), StandardCharsets.US_ASCII));
            if (m.find()) {
                out.add(m.group(1));
            }
        }
        return out;
    }

    private static void await(BooleanSupplier done, Duration timeout, java.util.function.Supplier<String> state)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + timeout + ": " + state.get());
            }
            Thread.sleep(100);
        }
    }

    /** An MX that accepts TCP connections and never sends a byte. */
    private static final class Silent implements AutoCloseable {
        private final ServerSocket server;
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();

        Silent(InetAddress address, int port) throws IOException {
            server = new ServerSocket(port, 200, address);
            Thread t = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        sockets.add(server.accept());
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "silent-mx");
            t.setDaemon(true);
            t.start();
        }

        int accepted() {
            return sockets.size();
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
