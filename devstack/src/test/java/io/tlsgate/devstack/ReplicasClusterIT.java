package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.TestDnsServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * {@code devstack --replicas 2}: two listener-service and two delivery-service processes on one
 * PostgreSQL, the listeners spreading their messages over both delivery replicas. Clients send
 * through both listeners while one delivery replica is killed with kill -9; like real MTAs they
 * send again after a 4xx or a broken connection. Every message that got 250 reaches the
 * internal server: what the killed replica had accepted is delivered by the other one once its
 * leases run out. Then listener-service's container image joins as one more replica.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicasClusterIT {

    private static final int OFFSET = 6000;
    private static final int MESSAGES = 400;
    private static final int CLIENTS = 4;
    private static final Pattern SEQ = Pattern.compile("X-Seq: (\\d+)\r\n");
    private static final Pattern START = Pattern.compile("Start MID (\\d+) ICID \\d+");

    private static ClusterApi api;
    private static TestDnsServer dns;
    private static ScriptedSmtpPeer inside;

    @BeforeAll
    static void cluster() throws Exception {
        dns = new TestDnsServer();
        Map<String, String> env = ClusterApi.inboundEnv(dns);
        // A killed replica's claimed messages go to the other one after this: short so the test is quick.
        env.put("TLSGATE_DELIVERY_LEASE", "15s");
        api = ClusterApi.start("replicas", OFFSET, env, "--replicas", "2");
        // A slow internal server, so that the queue holds claimed messages when the replica dies.
        inside = new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("inside", null).noStarttls(), InetAddress.getByName("127.0.0.1"), 0)
                .dataDelay(Duration.ofMillis(30));
        api.ok("PUT", 8081, "/api/v1/rat", "{\"domains\":[\"accepted.test\"]}");
        api.ok("POST", 8081, "/api/v1/smtp-routes", "{\"domain\":\"accepted.test\",\"hops\":[\"127.0.0.1:" + inside.port() + "\"]}");
    }

    @AfterAll
    static void down() throws Exception {
        ClusterApi.closeAll(inside, api, dns);
    }

    @Test
    @Order(1)
    void mailThroughBothListenersSurvivesTheKillOfADeliveryReplica() throws Exception {
        // Both listener processes registered; each serves the 'inbound' listener on its own port.
        JsonNode instances = api.get(8084, "/api/v1/instances");
        assertEquals(2, instances.size(), instances.toString());
        int[] ports = {api.port(2525), api.port(2525 + DevStack.REPLICA_STEP)};
        awaitGreeting(ports, Duration.ofSeconds(30));

        AtomicInteger next = new AtomicInteger();
        Map<Integer, Integer> acceptedBy = new ConcurrentHashMap<>();
        AtomicInteger tempFailures = new AtomicInteger();
        ChildProcess victim = api.stack().service("delivery-service-1");
        AtomicInteger killedAt = new AtomicInteger(-1);
        Instant start = Instant.now();
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        List<Future<?>> running = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            running.add(clients.submit(() -> {
                for (int seq = next.getAndIncrement(); seq < MESSAGES; seq = next.getAndIncrement()) {
                    int port = ports[seq % 2];
                    // A real MTA keeps a 4xx'd message and tries again later (here: soon).
                    for (int attempt = 1; ; attempt++) {
                        String reply = send(port, seq);
                        if (reply.startsWith("250")) {
                            acceptedBy.put(seq, port);
                            break;
                        }
                        assertTrue(reply.startsWith("4") || reply.startsWith("io:"), "seq " + seq + ": " + reply);
                        tempFailures.incrementAndGet();
                        assertTrue(attempt < 60, "seq " + seq + " never accepted: " + reply);
                        Thread.sleep(250);
                    }
                    if (acceptedBy.size() >= MESSAGES / 4 && killedAt.compareAndSet(-1, acceptedBy.size())) {
                        victim.kill();
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : running) {
            f.get();
        }
        clients.shutdown();
        Duration sending = Duration.between(start, Instant.now());

        assertEquals(MESSAGES, acceptedBy.size(), "every message accepted at last");
        assertTrue(killedAt.get() > 0 && !victim.isAlive(), "the replica was killed while mail was coming in");
        for (int port : ports) {
            assertTrue(acceptedBy.values().stream().filter(p -> p == port).count() >= MESSAGES / 4,
                    "listener on " + port + " took its share: " + acceptedBy.values().stream().filter(p -> p == port).count());
        }
        // Both delivery replicas queued messages from the listeners before the kill.
        int byPrimary = started("delivery-service").size();
        int byVictim = started("delivery-service-1").size();
        assertTrue(byVictim > 10 && byPrimary > 10, "queued by delivery-service " + byPrimary + ", by delivery-service-1 " + byVictim);

        // Nothing lost: every accepted message reaches the internal server (leases of 15 s).
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (seqs().size() < MESSAGES && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        Set<Integer> missing = new TreeSet<>(acceptedBy.keySet());
        missing.removeAll(seqs());
        System.out.printf("replicas: %d messages through 2 listeners in %d ms, delivery-service-1 killed after %d accepted; "
                + "%d temporary failures retried; queued by the replicas %d/%d; %d received (%d duplicates) %d ms after the start%n",
                MESSAGES, sending.toMillis(), killedAt.get(), tempFailures.get(), byPrimary, byVictim, inside.received().size(),
                inside.received().size() - seqs().size(), Duration.between(start, Instant.now()).toMillis());
        assertEquals(Set.of(), missing, "accepted but never delivered");
    }

    /**
     * listener-service's container image, built as docs/deploy.md says for a machine without a
     * registry (a base made by deploy/images/local-base-image.sh, then {@code -Pimages}), joins
     * the cluster as one more listener: its files unpacked, its entry point run in them as the
     * image's user (chroot), with what a pod gets (the secrets file as from a Secret, /etc/hosts
     * as from the kubelet). It enrols with cert-service, serves HTTPS, takes mail that is
     * delivered, and writes nothing outside /tmp (a read-only root file system would do).
     */
    @Test
    @Order(2)
    void theListenerImageRunsAsOneMoreReplica() throws Exception {
        Path repo = Path.of(System.getProperty("tlsgate.root", "..")).toAbsolutePath().normalize();
        Path work = Files.createTempDirectory("tlsgate-image-it-");
        ContainerImage image = ContainerImage.unpack(ContainerImage.build(repo, "listener-service", work), work.resolve("rootfs"));
        try {
            JsonNode config = image.config();
            assertEquals("65532:65532", config.get("User").asText());
            List<String> entry = new ArrayList<>();
            config.get("Entrypoint").forEach(a -> entry.add(a.asText()));
            assertEquals("/usr/bin/java", entry.get(0));
            assertEquals(List.of("@/deployments/jvm/listener-service.options", "-jar", "/deployments/quarkus-run.jar"),
                    entry.subList(entry.size() - 3, entry.size()));
            assertTrue(config.get("ExposedPorts").has("2525/tcp") && config.get("ExposedPorts").has("8084/tcp"),
                    config.toString());
            Path root = image.rootfs();
            assertTrue(Files.isRegularFile(root.resolve("deployments/quarkus-run.jar")));
            assertTrue(Files.isRegularFile(root.resolve("deployments/jvm/listener-service.options")));
            assertTrue(!Files.exists(root.resolve("app")), "Jib's own application layers are filtered out");

            Path secrets = root.resolve("deployments/secrets/secrets.properties");
            Files.createDirectories(secrets.getParent());
            Files.copy(api.secrets().file, secrets);
            Files.setAttribute(secrets, "unix:uid", 65532);
            Files.setPosixFilePermissions(secrets, java.nio.file.attribute.PosixFilePermissions.fromString("r--------"));
            Files.writeString(root.resolve("etc/hosts"), "127.0.0.1 localhost\n::1 localhost\n");
            long before = System.currentTimeMillis() - 1000;
            int step = 2 * DevStack.REPLICA_STEP;
            ChildProcess listener = api.stack().replicaFrom("listener-service-image", 8084 + step, image.command(), Map.of(
                    "QUARKUS_CONFIG_LOCATIONS", "file:/deployments/secrets/secrets.properties",
                    "TLSGATE_DNS_HOSTS_FILE", "/etc/hosts",
                    "TLSGATE_LISTENER_PORT_OFFSET", String.valueOf(api.port(step))));
            try {
                String status = Files.readString(Path.of("/proc/" + listener.pid() + "/status"));
                assertTrue(status.lines().anyMatch(l -> l.matches("Uid:\\s+65532\\s.*")), "runs as 65532:\n" + status);
                int port = api.port(2525 + step);
                awaitGreeting(new int[] {port}, Duration.ofSeconds(30));
                for (int seq = MESSAGES; seq < MESSAGES + 20; seq++) {
                    assertTrue(send(port, seq).startsWith("250"), "seq " + seq);
                }
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (!seqs().containsAll(java.util.stream.IntStream.range(MESSAGES, MESSAGES + 20).boxed().toList())
                        && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertTrue(seqs().containsAll(java.util.stream.IntStream.range(MESSAGES, MESSAGES + 20).boxed().toList()),
                        "delivered: " + seqs());
            } finally {
                listener.stop(20);
            }
            List<String> written = new ArrayList<>();
            try (var files = Files.walk(root)) {
                files.filter(Files::isRegularFile).filter(f -> !f.startsWith(root.resolve("tmp")) && !f.equals(secrets)
                        && !f.equals(root.resolve("etc/hosts"))).filter(f -> f.toFile().lastModified() > before)
                        .forEach(f -> written.add(root.relativize(f).toString()));
            }
            assertEquals(List.of(), written, "written outside /tmp");
        } finally {
            image.delete();
        }
    }

    /** The MIDs a delivery process logged as queued (its queue's log line, not a mail-log line). */
    private static Set<Long> started(String process) throws Exception {
        Set<Long> mids = new TreeSet<>();
        for (String line : Files.readAllLines(api.logs().resolve(process + ".log"), StandardCharsets.UTF_8)) {
            Matcher m = START.matcher(line);
            if (m.find()) {
                mids.add(Long.parseLong(m.group(1)));
            }
        }
        return mids;
    }

    private static Set<Integer> seqs() {
        Set<Integer> out = new TreeSet<>();
        for (ScriptedSmtpPeer.Received r : inside.received()) {
            Matcher m = SEQ.matcher(new String(r.data(), StandardCharsets.US_ASCII));
            if (m.find()) {
                out.add(Integer.parseInt(m.group(1)));
            }
        }
        return out;
    }

    private static void awaitGreeting(int[] ports, Duration timeout) throws Exception {
        for (int port : ports) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
                    s.setSoTimeout(5000);
                    String greeting = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))
                            .readLine();
                    if (greeting != null && greeting.startsWith("220")) {
                        break;
                    }
                } catch (IOException e) {
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError("no SMTP greeting on " + port, e);
                    }
                }
                Thread.sleep(300);
            }
        }
    }

    /**
     * One SMTP transaction without pipelining; returns the reply to the end of data, the first
     * reply that was not what a successful transaction gets, or "io: ..." if the connection broke.
     */
    private static String send(int port, int seq) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(60_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = s.getOutputStream();
            String r = reply(in);
            if (!r.startsWith("220")) {
                return r;
            }
            String[][] steps = {{"EHLO client.test", "250"}, {"MAIL FROM:<sender@origin.test>", "250"},
                    {"RCPT TO:<user" + seq + "@accepted.test>", "250"}, {"DATA", "354"}};
            for (String[] step : steps) {
                out.write((step[0] + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                r = reply(in);
                if (!r.startsWith(step[1])) {
                    return r;
                }
            }
            out.write(("From: <sender@origin.test>\r\nTo: <user" + seq + "@accepted.test>\r\nSubject: replicas\r\nX-Seq: " + seq
                    + "\r\n\r\n" + "body line\r\n".repeat(50) + ".\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            r = reply(in);
            out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return r;
        } catch (IOException e) {
            return "io: " + e;
        }
    }

    private static String reply(BufferedReader in) throws IOException {
        String line;
        do {
            line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed");
            }
        } while (line.length() > 3 && line.charAt(3) == '-');
        return line;
    }
}
