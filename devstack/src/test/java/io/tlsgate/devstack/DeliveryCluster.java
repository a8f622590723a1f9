package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.grpc.ManagedChannel;
import io.tlsgate.testkit.KafkaRecords;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import io.tlsgate.testkit.TestDnsServer;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The cluster of the delivery tests ({@code Delivery*ClusterIT}): delivery-service as an
 * operator runs it, with real policy-service (destination controls, bounce profile, alert
 * setting), real cert-service (the trusted CA), PostgreSQL, a Kafka broker process, a DNS
 * server on loopback for the MX records and scripted SMTP peers on loopback addresses.
 * Messages go in through gRPC Enqueue; what comes out is read where an operator reads it: the
 * peers, GET /api/v1/messages/{mid}, the mail log file, the Kafka topics.
 *
 * <p>The peers: one of each kind of {@link #PEER_KINDS} on 127.0.1.n (n from 1), MX of the
 * domains {@code <kind>.<mode>.test} (see {@link #domain}), each mode of {@link #MODES} set by
 * a destination entry {@code .<mode>.test} with the bounce profile {@code it} (no retry within
 * a test). Those domains are the golden table's: each must see exactly its one message there
 * (one outcome event per domain), so other tests send to a peer under a domain of their own.
 *
 * <p>One cluster per test JVM, as {@link ListenerCluster}: each class with
 * {@code @ExtendWith(DeliveryCluster.Shared.class)} takes it from the store of the root
 * extension context, where the first such class started it; JUnit closes it when the run ends.
 * A test that changes what the cluster runs (a setting, a slot's certificate, a stopped broker
 * or service) puts it back before it ends, so the classes and their tests may run in any order.
 */
final class DeliveryCluster implements AutoCloseable {

    static final int OFFSET = 2000;
    static final List<String> PEER_KINDS = List.of("no-esmtp", "no-starttls", "starttls-454", "handshake-fails", "valid",
            "self-signed", "expired", "wrong-host", "mx-not-domain", "domain-not-mx");
    static final List<String> MODES = List.of("NONE", "PREFERRED", "REQUIRED", "PREFERRED_VERIFY", "REQUIRED_VERIFY",
            "REQUIRED_VERIFY_HOSTED_DOMAINS");

    private static DeliveryCluster current;

    private final ClusterApi api;
    private final TestDnsServer dns;
    private final TestPki.Issued root;
    private final int smtpPort;
    /** The port of MTA-STS policy hosts (127.0.1.200 and up): tlsgate.delivery.mta-sts.https-port. */
    private int stsPort;
    /** The DNSSEC-signed zone dane.test, whose key is delivery-service's only trust anchor. */
    private TestDnsServer.SignedZone daneZone;
    private final Map<String, ScriptedSmtpPeer> peers = new LinkedHashMap<>();
    private ManagedChannel delivery;

    private DeliveryCluster(ClusterApi api, TestDnsServer dns, TestPki.Issued root, int smtpPort) {
        this.api = api;
        this.dns = dns;
        this.root = root;
        this.smtpPort = smtpPort;
    }

    /** Starts the cluster for every class of a test run that extends with it, the first time one asks. */
    static final class Shared implements BeforeAllCallback {
        @Override
        public void beforeAll(ExtensionContext context) {
            ClusterApi.oncePerRun(context, DeliveryCluster.class, DeliveryCluster::start);
        }
    }

    private static DeliveryCluster start() throws Exception {
        TestDnsServer dns = new TestDnsServer();
        ClusterApi api = null;
        try {
            int smtpPort = ClusterApi.freePort("127.0.1.1");
            Map<String, String> env = ClusterApi.outboundEnv(dns.address(), smtpPort);
            // A killed replica's work comes back after its lease: short here so the test is quick.
            env.put("TLSGATE_DELIVERY_LEASE", "20s");
            env.put("TLSGATE_DELIVERY_CERT_REFRESH", "1s");
            // MTA-STS policy hosts are HTTPS servers on 127.0.1.200, not on 443 (which needs root).
            int stsPort = ClusterApi.freePort("127.0.1.200");
            env.put("TLSGATE_DELIVERY_MTA_STS_HTTPS_PORT", String.valueOf(stsPort));
            // DANE: names under dane.test are signed; the zone's key is the only trust anchor
            // (everything else is outside any anchor, so insecure: no DANE there).
            TestDnsServer.SignedZone daneZone = dns.signedZone("dane.test");
            java.nio.file.Path anchors = java.nio.file.Files.createTempFile("tlsgate-dane-anchors", ".txt");
            anchors.toFile().deleteOnExit();
            java.nio.file.Files.writeString(anchors, daneZone.trustAnchor() + "\n");
            env.put("TLSGATE_DELIVERY_DANE_TRUST_ANCHORS", anchors.toString());
            api = ClusterApi.start("delivery", OFFSET, env);

            TestPki.Issued root = TestPki.selfSignedCa("Cluster IT Peers Root", Duration.ofDays(30));
            HttpResponse<String> ca = api.send("POST", 8082, "/api/v1/trusted-cas", "application/x-pem-file", root.certificatePem());
            assertEquals(201, ca.statusCode(), ca.body());
            current = new DeliveryCluster(api, dns, root, smtpPort);
            current.stsPort = stsPort;
            current.daneZone = daneZone;
            // No retry during the test: a temporary failure stays queued with its next attempt an hour away.
            api.hourlyRetryProfile("it");
            for (String mode : MODES) {
                api.ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"." + label(mode) + ".test\",\"tls\":\"" + mode
                        + "\",\"bounceProfile\":\"it\"}");
            }
            current.startPeers();
            current.delivery = api.deliveryChannel();
            return current;
        } catch (Exception | Error e) {
            if (current != null) {
                current.close();
            } else {
                ClusterApi.closeAll(api, dns);
            }
            throw e;
        }
    }

    private void startPeers() throws Exception {
        for (int i = 0; i < PEER_KINDS.size(); i++) {
            String kind = PEER_KINDS.get(i);
            String ip = peerAddress(kind);
            List<String> domains = MODES.stream().map(m -> domain(kind, m)).toList();
            List<String> mxs = new ArrayList<>();
            for (String d : domains) {
                dns.mx(d, 10, "mx." + d).address("mx." + d, ip);
                mxs.add("mx." + d);
            }
            List<String> all = new ArrayList<>(mxs);
            all.addAll(domains);
            SSLContext ctx = peerContext(kind, mxs.get(0), mxs, all, domains);
            peers.put(kind, new ScriptedSmtpPeer(peerScript(kind, kind, ctx), InetAddress.getByName(ip), smtpPort));
        }
    }

    @Override
    public void close() throws Exception {
        current = null;
        List<AutoCloseable> all = new ArrayList<>();
        all.add(delivery == null ? null : delivery::shutdownNow);
        all.addAll(peers.values());
        all.add(api);
        all.add(dns);
        ClusterApi.closeAll(all.toArray(AutoCloseable[]::new));
    }

    private static DeliveryCluster cluster() {
        return ClusterApi.started(current, Shared.class);
    }

    // ---- the cluster's parts

    static ClusterApi api() {
        return cluster().api;
    }

    static DevStack stack() {
        return api().stack();
    }

    static TestDnsServer dns() {
        return cluster().dns;
    }

    /** The port every peer listens on (at its own address). */
    static int smtpPort() {
        return cluster().smtpPort;
    }

    /** The port MTA-STS policy hosts listen on (delivery-service fetches policies there). */
    static int stsPort() {
        return cluster().stsPort;
    }

    /** A certificate for {@code name} from a CA made for it and trusted by nobody. */
    static TestPki.Issued untrusted(String name) {
        TestPki.Issued ca = TestPki.selfSignedCa("Throwaway CA", Duration.ofDays(30));
        KeyPair kp = TestPki.ecKeys();
        return new TestPki.Issued(kp, TestPki.issue(ca, kp.getPublic(), TestPki.Spec.server(name, name)));
    }

    /** Where the TLSA records of {@code domain}'s MX host {@code mx.<domain>} are, at the peers' port. */
    static String tlsaName(String domain) {
        return "_" + smtpPort() + "._tcp.mx." + domain;
    }

    /** SHA-256 of a public key's SubjectPublicKeyInfo: the data of a {@code 3 1 1} (or {@code 2 1 1}) TLSA record. */
    static byte[] spkiSha256(java.security.PublicKey key) throws Exception {
        return java.security.MessageDigest.getInstance("SHA-256").digest(key.getEncoded());
    }

    /** The signed zone {@code dane.test} (delivery-service validates from its key). */
    static TestDnsServer.SignedZone daneZone() {
        return cluster().daneZone;
    }

    /** The peer of one of {@link #PEER_KINDS}. */
    static ScriptedSmtpPeer peer(String kind) {
        return cluster().peers.get(kind);
    }

    /** The address of the peer of one of {@link #PEER_KINDS}. */
    static String peerAddress(String kind) {
        return "127.0.1." + (PEER_KINDS.indexOf(kind) + 1);
    }

    /** The CA cert-service trusts, which issued the peers' certificates. */
    static TestPki.Issued root() {
        return cluster().root;
    }

    // ---- peers

    /** Gives {@code domain} the MX host {@code mx.<domain>} at {@code ip}. */
    static void mx(String domain, String ip) {
        dns().mx(domain, 10, "mx." + domain).address("mx." + domain, ip);
    }

    /**
     * The TLS context of a peer of {@code kind} whose own name is {@code cn}: its certificate
     * names {@code hopNames} (the names of the next hop) for mx-not-domain, {@code domains} for
     * domain-not-mx, another host for wrong-host and {@code all} otherwise (expired: no longer
     * valid; self-signed: not from the test root).
     */
    static SSLContext peerContext(String kind, String cn, List<String> hopNames, List<String> all, List<String> domains) {
        Instant now = Instant.now();
        return switch (kind) {
            case "self-signed" -> context(TestPki.selfSignedCa(cn, Duration.ofDays(30)), true);
            case "expired" -> context(issued(TestPki.Spec.server(cn, all.toArray(String[]::new))
                    .validity(now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)))), false);
            case "wrong-host" -> context(issued(TestPki.Spec.server("other.test", "other.test")), false);
            case "mx-not-domain" -> context(issued(TestPki.Spec.server(cn, hopNames.toArray(String[]::new))), false);
            case "domain-not-mx" -> context(issued(TestPki.Spec.server(domains.get(0), domains.toArray(String[]::new))), false);
            default -> context(issued(TestPki.Spec.server(cn, all.toArray(String[]::new))), false);
        };
    }

    /** The SMTP script of a peer of {@code kind}, named {@code name}. */
    static Script peerScript(String name, String kind, SSLContext ctx) {
        Script s = Script.tls(name, ctx);
        return switch (kind) {
            case "no-esmtp" -> s.noEsmtp();
            case "no-starttls" -> s.noStarttls();
            case "starttls-454" -> s.starttlsReply("454 4.7.0 TLS not available due to temporary reason");
            case "handshake-fails" -> s.failingHandshake();
            default -> s;
        };
    }

    static TestPki.Issued issued(TestPki.Spec spec) {
        KeyPair kp = TestPki.ecKeys();
        return new TestPki.Issued(kp, TestPki.issue(root(), kp.getPublic(), spec));
    }

    /** A peer's TLS context; {@code trustRoot}: client certificates from the test root are accepted. */
    static SSLContext context(TestPki.Issued id, boolean selfSigned, boolean trustRoot) {
        X509Certificate[] chain = selfSigned ? new X509Certificate[] {id.certificate()}
                : new X509Certificate[] {id.certificate(), root().certificate()};
        return TestPki.serverContext(id.keys(), trustRoot ? root().certificate() : null, chain);
    }

    static SSLContext context(TestPki.Issued id, boolean selfSigned) {
        return context(id, selfSigned, false);
    }

    // ---- names

    static String domain(String peer, String mode) {
        return peer + "." + label(mode) + ".test";
    }

    static String label(String mode) {
        return mode.toLowerCase(Locale.ROOT).replace('_', '-');
    }

    // ---- messages and what became of them

    static long enqueue(String from, String to, String header) {
        return enqueue(from, List.of(to), header);
    }

    static long enqueue(String from, List<String> to, String header) {
        return enqueue(from, to, header, false);
    }

    /** {@code requireTls}: the envelope says REQUIRETLS (RFC 8689), as the listener passes it on. */
    static long enqueue(String from, List<String> to, String header, boolean requireTls) {
        byte[] body = ("From: <" + from + ">\r\nTo: <" + to.get(0) + ">\r\nSubject: cluster test\r\n" + header
                + "\r\n\r\n.a line with a leading dot\r\nbody\r\n").getBytes(StandardCharsets.US_ASCII);
        return ClusterApi.enqueue(cluster().delivery, from, to, body, requireTls);
    }

    /** A message in the queue (GET /api/v1/messages/{mid}). */
    static JsonNode message(long mid) throws Exception {
        return api().get(8083, "/api/v1/messages/" + mid);
    }

    /** The message once a delivery attempt and its recipients' results are recorded. */
    static JsonNode awaitAttempt(long mid, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode m = null;
        while (System.nanoTime() < deadline) {
            m = message(mid);
            // The attempt is recorded just before the recipients' results: wait for both.
            boolean settled = true;
            for (JsonNode r : m.get("recipients")) {
                settled &= !r.get("state").asText().equals("QUEUED") || r.get("attempts").asInt() > 0;
            }
            if (m.get("attempts").size() > 0 && settled) {
                return m;
            }
            Thread.sleep(200);
        }
        fail("no delivery attempt for MID " + mid + " within " + timeout + ": " + m + "\n" + stack().service("delivery-service")
                .tail(40));
        return null;
    }

    /** delivery-service's mail log so far. */
    static List<String> mailLog() throws Exception {
        return api().mailLog("delivery-service");
    }

    static String kafka() {
        return api().kafka();
    }

    /** The first outcome event (tlsgate.tls-outcomes) with the key {@code domain}, waiting up to 30 s for one. */
    static JsonNode outcomeFor(String domain) throws Exception {
        return ClusterApi.JSON.readTree(KafkaRecords.readUntil(kafka(), "tlsgate.tls-outcomes", rs -> rs.stream().anyMatch(
                x -> domain.equals(x.key())), Duration.ofSeconds(30)).stream().filter(x -> domain.equals(x.key())).findFirst()
                .orElseThrow(() -> new AssertionError("no outcome event for " + domain)).value());
    }

    /** How many alerts (tlsgate.tls-alerts) have the key {@code domain}, read for 5 s. */
    static long alertsFor(String domain) throws Exception {
        return KafkaRecords.readUntil(kafka(), "tlsgate.tls-alerts", rs -> false, Duration.ofSeconds(5)).stream()
                .filter(x -> domain.equals(x.key())).count();
    }

    static String text(JsonNode n) {
        return n == null || n.isNull() ? "" : n.asText();
    }
}
