package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.tlsgate.testkit.HostileSmtpPeer;
import io.tlsgate.testkit.KafkaRecords;
import io.tlsgate.testkit.OutboundDecisionTable;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import io.tlsgate.testkit.TestDnsServer;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * delivery-service in the cluster, as an operator runs it: real policy-service (destination
 * controls, bounce profile, alert setting), real cert-service (the trusted CA), PostgreSQL,
 * a Kafka broker process, a DNS server on loopback for the MX records and scripted SMTP peers
 * on loopback addresses. Messages go in through gRPC Enqueue; what comes out is read where an
 * operator reads it: the peers, GET /api/v1/messages/{mid}, the mail log file, the Kafka topics.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DeliveryClusterIT {

    private static final int OFFSET = 2000;
    private static final List<String> PEER_KINDS = List.of("no-esmtp", "no-starttls", "starttls-454", "handshake-fails", "valid",
            "self-signed", "expired", "wrong-host", "mx-not-domain", "domain-not-mx");
    private static final List<String> MODES = List.of("NONE", "PREFERRED", "REQUIRED", "PREFERRED_VERIFY", "REQUIRED_VERIFY",
            "REQUIRED_VERIFY_HOSTED_DOMAINS");
    /** SMTP routes to an IPv4 literal, an IPv6 literal, a host name. */
    private static final List<String> ROUTES = List.of("v4", "v6", "host");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static DevStack stack;
    private static ClusterApi api;
    private static DevSecrets secrets;
    private static TestDnsServer dns;
    private static TestPki.Issued root;
    private static int smtpPort;
    private static final Map<String, ScriptedSmtpPeer> PEERS = new LinkedHashMap<>();
    private static ManagedChannel delivery;

    @BeforeAll
    static void cluster() throws Exception {
        dns = new TestDnsServer();
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.1.1"))) {
            smtpPort = probe.getLocalPort();
        }
        Map<String, String> env = new HashMap<>();
        env.put("TLSGATE_DNS_SERVER", dns.address());
        // The tests' MX hosts listen on loopback addresses.
        env.put("TLSGATE_DELIVERY_MX_LOCAL_ADDRESSES", "true");
        env.put("TLSGATE_DELIVERY_SMTP_PORT", String.valueOf(smtpPort));
        env.put("TLSGATE_DELIVERY_HELO_NAME", "gateway.tlsgate.test");
        env.put("TLSGATE_DELIVERY_POLL_INTERVAL", "200ms");
        // A killed replica's work comes back after its lease: short here so the test is quick.
        env.put("TLSGATE_DELIVERY_LEASE", "20s");
        env.put("TLSGATE_DELIVERY_CERT_REFRESH", "1s");
        api = ClusterApi.start("delivery", OFFSET, env);
        stack = api.stack();
        secrets = api.secrets();

        root = TestPki.selfSignedCa("Cluster IT Peers Root", Duration.ofDays(30));
        HttpResponse<String> ca = send("POST", 8082, "/api/v1/trusted-cas", "application/x-pem-file", root.certificatePem());
        assertEquals(201, ca.statusCode(), ca.body());
        // No retry during the test: a temporary failure stays queued with its next attempt an hour away.
        ok(send("POST", 8081, "/api/v1/bounce-profiles", "application/json", "{\"name\":\"it\",\"maxRetries\":5,"
                + "\"maxTimeInQueueSeconds\":86400,\"initialRetrySeconds\":3600,\"maxRetrySeconds\":3600,"
                + "\"sendHardBounces\":false,\"sendDelayWarnings\":false}"));
        for (String mode : MODES) {
            ok(send("POST", 8081, "/api/v1/destinations", "application/json", "{\"key\":\"." + label(mode) + ".test\",\"tls\":\""
                    + mode + "\",\"bounceProfile\":\"it\"}"));
        }
        startPeers();
        delivery = api.deliveryChannel();
    }

    @AfterAll
    static void down() throws Exception {
        if (delivery != null) {
            delivery.shutdownNow();
        }
        for (ScriptedSmtpPeer p : PEERS.values()) {
            p.close();
        }
        if (api != null) {
            api.close();
        }
        if (dns != null) {
            dns.close();
        }
    }

    /**
     * The golden table of the six modes against the ten peers (core's outbound-decisions.csv),
     * now through the whole path: one domain per row ({@code <peer>.<mode>.test}, its mode from
     * a destination entry), MX on the peer's loopback address.
     */
    @Test
    @Order(1)
    void everyModeAgainstEveryPeerThroughTheCluster() throws Exception {
        List<OutboundDecisionTable.Row> rows = OutboundDecisionTable.rows();
        assertEquals(60, rows.size());
        Map<String, Long> mids = new LinkedHashMap<>();
        for (OutboundDecisionTable.Row r : rows) {
            String domain = domain(r.peer(), r.mode());
            mids.put(domain, enqueue("sender@origin.test", "user@" + domain, "X-Row: " + r.mode() + " " + r.peer()));
        }
        Map<String, JsonNode> messages = new LinkedHashMap<>();
        for (Map.Entry<String, Long> e : mids.entrySet()) {
            messages.put(e.getKey(), awaitAttempt(e.getValue(), Duration.ofSeconds(180)));
        }
        List<String> log = mailLog();
        List<ConsumerRecord<String, byte[]>> outcomes = KafkaRecords.readUntil(kafka(), "tlsgate.tls-outcomes",
                rs -> mids.keySet().stream().allMatch(d -> rs.stream().anyMatch(x -> d.equals(x.key()))), Duration.ofSeconds(60));
        List<ConsumerRecord<String, byte[]>> alerts = KafkaRecords.readUntil(kafka(), "tlsgate.tls-alerts",
                rs -> false, Duration.ofSeconds(5));

        List<String> failures = new ArrayList<>();
        for (OutboundDecisionTable.Row r : rows) {
            String domain = domain(r.peer(), r.mode());
            try {
                checkRow(r, domain, mids.get(domain), messages.get(domain), log, outcomes, alerts, new Via(PEERS.get(r.peer()),
                        "X-Row: " + r.mode() + " " + r.peer(), "mx." + domain, smtpPort, "mx." + domain, null, null));
            } catch (AssertionError e) {
                failures.add(r.mode() + " vs " + r.peer() + ": " + e.getMessage());
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " of 60 rows failed:\n" + String.join("\n", failures));
    }

    /**
     * Where a row's message goes and what the peer must see: the peer, the row's header line,
     * the next hop's name and port as the attempt records them, the SNI name sent on TLS (null:
     * none), and, when given, the reference identity a verify success names and the reference
     * identities a host mismatch lists ({@code [a, b]}).
     */
    private record Via(ScriptedSmtpPeer peer, String header, String host, int port, String sni, String reference,
            String references) {}

    private void checkRow(OutboundDecisionTable.Row r, String domain, long mid, JsonNode m, List<String> log,
            List<ConsumerRecord<String, byte[]>> outcomes, List<ConsumerRecord<String, byte[]>> alerts, Via via) throws Exception {
        boolean sends = !r.action().equals("TEMPFAIL");
        JsonNode attempts = m.get("attempts");
        assertEquals(1, attempts.size(), "one connection (one next hop): " + attempts);
        JsonNode a = attempts.get(0);
        long dcid = a.get("dcid").asLong();
        assertEquals(via.host(), a.get("host").asText(), "next hop");
        assertEquals(via.port(), a.get("port").asInt(), "next hop's port");
        JsonNode rcpt = m.get("recipients").get(0);
        List<ScriptedSmtpPeer.Received> got = via.peer().received().stream()
                .filter(x -> new String(x.data(), StandardCharsets.US_ASCII).contains(via.header() + "\r\n"))
                .toList();
        if (sends) {
            assertEquals("DONE", m.get("state").asText(), "queue state");
            assertEquals("DELIVERED", rcpt.get("state").asText());
            assertEquals(1, got.size(), "the peer got it once");
            assertEquals(r.encrypted(), got.get(0).tls(), "encrypted");
            assertEquals(r.encrypted() ? via.sni() : null, got.get(0).serverName(), "SNI");
            assertEquals("delivered", a.get("outcome").asText());
        } else {
            assertEquals("QUEUED", m.get("state").asText(), "queue state");
            assertEquals("QUEUED", rcpt.get("state").asText());
            assertEquals(1, rcpt.get("attempts").asInt(), "recipient attempts");
            assertTrue(Instant.parse(rcpt.get("nextAttemptAt").asText()).isAfter(Instant.now().plusSeconds(3000)),
                    "retried under the bounce profile (an hour): " + rcpt);
            assertEquals(0, got.size(), "nothing may be sent");
            assertEquals("deferred", a.get("outcome").asText());
        }
        // The attempt's TLS facts, as GET /messages/{mid} shows them.
        JsonNode tls = a.get("tls");
        assertEquals(r.mode(), tls.get("mode").asText());
        assertEquals("." + label(r.mode()) + ".test", tls.get("modeSource").asText());
        assertEquals(r.result(), tls.get("result").asText(), "attempt TLS result");
        assertEquals(r.resultType(), text(tls.get("failure")), "attempt TLS failure type");
        assertEquals(r.verification(), tls.get("verification").asText(), "attempt verification");

        // The mail log: the connection's lines, the TLS lines exactly as the table says.
        String ip = a.get("ip").asText();
        // Addresses as RFC 5952 writes them (::1, not 0:0:0:0:0:0:0:1), here and in the log lines below.
        assertEquals(io.tlsgate.core.destination.DestinationKey.format(java.net.InetAddress.getByName(ip).getAddress()), ip,
                "attempt address");
        List<String> lines = log.stream().filter(l -> l.matches(".*DCID " + dcid + "\\b.*")).toList();
        assertTrue(lines.contains("New SMTP DCID " + dcid + " interface 127.0.0.1 address " + ip + " port " + via.port())
                || lines.stream().anyMatch(l -> l.startsWith("New SMTP DCID " + dcid + " interface ")
                        && l.endsWith(" address " + ip + " port " + via.port())), "New SMTP line in " + lines);
        List<String> expected = r.logPatterns(dcid);
        List<String> tlsLines = lines.stream().filter(l -> l.matches("DCID \\d+ (TLS|IP) .*")).toList();
        assertEquals(expected.size(), tlsLines.size(), "TLS log lines " + tlsLines + " vs " + r.logLines());
        for (int i = 0; i < expected.size(); i++) {
            assertTrue(tlsLines.get(i).matches(expected.get(i)), tlsLines.get(i) + " should match " + expected.get(i));
        }
        for (String l : tlsLines) {
            if (via.reference() != null && l.startsWith("DCID " + dcid + " TLS verify success: ")) {
                assertEquals("DCID " + dcid + " TLS verify success: " + via.reference(), l, "the reference identity that matched");
            }
            if (via.references() != null && l.startsWith("DCID " + dcid + " TLS verify failed: certificate-host-mismatch: ")) {
                assertTrue(l.endsWith(" match none of " + via.references()), l + " should list the references " + via.references());
            }
        }
        if (sends) {
            assertTrue(lines.contains("Delivery start DCID " + dcid + " MID " + mid + " to RID [0]"), lines.toString());
            assertTrue(lines.contains("Message done DCID " + dcid + " MID " + mid + " to RID [0]"), lines.toString());
        } else {
            String code = r.mode().startsWith("REQUIRED") ? "4.7.5 - TLS required by policy" : "4.7.0 - TLS negotiation failed";
            assertTrue(lines.contains("Delayed: DCID " + dcid + " MID " + mid + " to RID [0] - " + code), lines.toString());
        }

        // One outcome event for the connection, and an alert only for the REQUIRED* failures.
        List<JsonNode> events = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> o : outcomes) {
            if (domain.equals(o.key())) {
                events.add(JSON.readTree(o.value()));
            }
        }
        assertEquals(1, events.size(), "one outcome event: " + events);
        JsonNode e = events.get(0);
        assertEquals(dcid, e.get("dcid").asLong());
        assertEquals(mid, e.get("mids").get(0).asLong());
        assertEquals(r.result(), e.get("result").asText(), "event result");
        assertEquals(r.resultType(), text(e.get("resultType")), "event reason");
        assertEquals(r.verification(), e.get("verification").asText(), "event verification");
        assertEquals(r.mode(), e.get("mode").asText());
        long alertCount = alerts.stream().filter(x -> domain.equals(x.key())).count();
        assertEquals(r.alert() ? 1 : 0, alertCount, "alerts on tlsgate.tls-alerts");
    }

    /**
     * The same 60 rows with the next hop from an SMTP route instead of the MX lookup, for three
     * kinds of route: an IPv4 literal with a port ({@code 127.0.3.n:port}), an IPv6 literal
     * ({@code [::1]:port}, one port per peer) and a host name with a port that the DNS server
     * resolves ({@code relay-<peer>.routes.test:port} to 127.0.4.n): 180 messages, one domain
     * per row ({@code <peer>.<route>.<mode>.test}, its mode from the same destination entries),
     * delivered together.
     *
     * <p>Reference identities of the verify modes (docs/delivery.md): a route's host name is
     * one, an address never is (it is not a DNS name), so over an address only the recipient
     * domain can match. The table's {@code mx-not-domain} peer presents a certificate naming the
     * next hop and not the domain: for the host-name route that is the route host name, a match
     * as the table says; for an address it is the address (CN, a DNS SAN of its text for IPv4,
     * an iPAddress SAN), a host mismatch, so those rows expect what the table says for
     * {@code wrong-host}. Every other row is the table's. The route host name goes out as SNI;
     * to an address no SNI is sent.
     */
    @Test
    @Order(2)
    void everyModeAgainstEveryPeerOverSmtpRoutes() throws Exception {
        Map<String, OutboundDecisionTable.Row> table = new LinkedHashMap<>();
        for (OutboundDecisionTable.Row r : OutboundDecisionTable.rows()) {
            table.put(r.mode() + " " + r.peer(), r);
        }
        assertEquals(60, table.size());
        List<RoutePeer> peers = new ArrayList<>();
        try {
            int port;
            try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.3.1"))) {
                port = probe.getLocalPort();
            }
            for (String route : ROUTES) {
                for (int i = 0; i < PEER_KINDS.size(); i++) {
                    peers.add(routePeer(route, i, PEER_KINDS.get(i), port));
                }
            }
            String last = null;
            for (RoutePeer p : peers) {
                for (String mode : MODES) {
                    last = routeDomain(p, mode);
                    ok(send("POST", 8081, "/api/v1/smtp-routes", "application/json", "{\"domain\":\"" + last + "\",\"hops\":[\""
                            + p.hop() + "\"]}"));
                }
            }
            // policy-service reloads before it answers a change: the routes are in effect.
            JsonNode resolved = JSON.readTree(ok(send("GET", 8081, "/api/v1/smtp-routes/resolve?domain=" + last, null, null)));
            assertEquals(last, resolved.path("matchedKey").asText(), resolved.toString());
            assertFalse(resolved.path("useDns").asBoolean(), resolved.toString());

            long started = System.nanoTime();
            Map<String, Long> mids = new LinkedHashMap<>();
            for (RoutePeer p : peers) {
                for (String mode : MODES) {
                    String domain = routeDomain(p, mode);
                    mids.put(domain, enqueue("sender@origin.test", "user@" + domain, header(p, mode)));
                }
            }
            Map<String, JsonNode> messages = new LinkedHashMap<>();
            for (Map.Entry<String, Long> e : mids.entrySet()) {
                messages.put(e.getKey(), awaitAttempt(e.getValue(), Duration.ofSeconds(180)));
            }
            System.out.printf("routes: %d messages attempted in %d ms%n", mids.size(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            List<String> log = mailLog();
            List<ConsumerRecord<String, byte[]>> outcomes = KafkaRecords.readUntil(kafka(), "tlsgate.tls-outcomes",
                    rs -> mids.keySet().stream().allMatch(d -> rs.stream().anyMatch(x -> d.equals(x.key()))), Duration.ofSeconds(60));
            List<ConsumerRecord<String, byte[]>> alerts = KafkaRecords.readUntil(kafka(), "tlsgate.tls-alerts",
                    rs -> false, Duration.ofSeconds(5));

            List<String> failures = new ArrayList<>();
            for (RoutePeer p : peers) {
                boolean literal = p.name() == null;
                for (String mode : MODES) {
                    String domain = routeDomain(p, mode);
                    OutboundDecisionTable.Row r = table.get(mode + " " + p.kind());
                    if (literal && p.kind().equals("mx-not-domain")) {
                        // The certificate names only the address: no reference identity.
                        OutboundDecisionTable.Row w = table.get(mode + " wrong-host");
                        r = new OutboundDecisionTable.Row(mode, p.kind(), w.handshake(), w.action(), w.encrypted(), w.helo(),
                                w.result(), w.resultType(), w.verification(), w.alert(), w.logLines());
                    }
                    boolean hosted = mode.equals("REQUIRED_VERIFY_HOSTED_DOMAINS");
                    // The reference identity a verify success names: over an address the domain;
                    // over a host name Verify tries the route host first, Hosted Verify the domain.
                    String reference = switch (p.kind()) {
                        case "domain-not-mx" -> domain;
                        case "mx-not-domain" -> p.name(); // null over an address: no success there
                        default -> literal || hosted ? domain : p.name();
                    };
                    String references = literal ? List.of(domain).toString()
                            : (hosted ? List.of(domain, p.name()) : List.of(p.name(), domain)).toString();
                    try {
                        checkRow(r, domain, mids.get(domain), messages.get(domain), log, outcomes, alerts, new Via(p.peer(),
                                header(p, mode), p.hopName(), p.port(), p.name(), reference, references));
                    } catch (AssertionError e) {
                        failures.add(p.route() + " route: " + mode + " vs " + p.kind() + ": " + e.getMessage());
                    }
                }
            }
            assertTrue(failures.isEmpty(), failures.size() + " of 180 rows failed:\n" + String.join("\n", failures));
        } finally {
            for (RoutePeer p : peers) {
                p.peer().close();
            }
        }
    }

    /**
     * Per-recipient results under a bounce profile without retries: one recipient accepted,
     * one refused (5xx), one temporarily refused (4xx, no retry left); the sender gets one DSN
     * naming the two that bounced, from the null reverse-path.
     */
    @Test
    @Order(3)
    void perRecipientResultsAndADsnToTheSender() throws Exception {
        ok(send("POST", 8081, "/api/v1/bounce-profiles", "application/json", "{\"name\":\"no-retry\",\"maxRetries\":0,"
                + "\"maxTimeInQueueSeconds\":3600,\"initialRetrySeconds\":60,\"maxRetrySeconds\":600,"
                + "\"sendHardBounces\":true,\"sendDelayWarnings\":false}"));
        String domain = "rcpts.test";
        ok(send("POST", 8081, "/api/v1/destinations", "application/json", "{\"key\":\"" + domain
                + "\",\"tls\":\"NONE\",\"bounceProfile\":\"no-retry\"}"));
        InetAddress address = InetAddress.getByName("127.0.2.2");
        dns.mx(domain, 10, "mx." + domain).address("mx." + domain, address.getHostAddress());
        String sender = "sender@valid.none.test"; // the valid peer takes the DSN
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("rcpts", null).noStarttls()
                .rcpt("gone@" + domain, "550 5.1.1 No such user").rcpt("full@" + domain, "452 4.2.2 Mailbox full"),
                address, smtpPort)) {
            long mid = enqueue(sender, List.of("ok@" + domain, "gone@" + domain, "full@" + domain), "X-Row: rcpts");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("DONE", m.get("state").asText(), m.toString());
            JsonNode r = m.get("recipients");
            assertEquals("DELIVERED", r.get(0).get("state").asText());
            assertEquals("BOUNCED", r.get(1).get("state").asText());
            assertTrue(r.get(1).get("lastReply").asText().startsWith("550 5.1.1"), r.toString());
            assertEquals("BOUNCED", r.get(2).get("state").asText());
            assertTrue(r.get(2).get("lastReply").asText().startsWith("554 5.4.7 Delivery time expired after 1 attempt(s): "
                    + "Mailbox full"), r.toString());
            assertEquals(List.of("ok@" + domain), peer.received().get(0).rcptTo());
            assertEquals("partly", m.get("attempts").get(0).get("outcome").asText(), m.toString());

            ScriptedSmtpPeer valid = PEERS.get("valid");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            ScriptedSmtpPeer.Received dsn = null;
            while (dsn == null && System.nanoTime() < deadline) {
                dsn = valid.received().stream().filter(x -> new String(x.data(), StandardCharsets.US_ASCII)
                        .contains("X-Tlsgate-MID: " + mid + "\r\n")).findFirst().orElse(null);
                Thread.sleep(200);
            }
            assertNotNull(dsn, "no DSN reached the sender's MX");
            assertEquals("", dsn.mailFrom(), "a DSN comes from <>");
            assertEquals(List.of(sender), dsn.rcptTo());
            String body = new String(dsn.data(), StandardCharsets.US_ASCII);
            assertTrue(body.contains("Content-Type: multipart/report; report-type=delivery-status"), body);
            assertTrue(body.contains("Final-Recipient: rfc822; gone@" + domain + "\r\nAction: failed\r\nStatus: 5.1.1"), body);
            assertTrue(body.contains("Final-Recipient: rfc822; full@" + domain + "\r\nAction: failed\r\nStatus: 5.4.7"), body);
            assertFalse(body.contains("Final-Recipient: rfc822; ok@"), body);
            List<String> log = mailLog();
            long dcid = m.get("attempts").get(0).get("dcid").asLong();
            assertTrue(log.contains("Bounced: DCID " + dcid + " MID " + mid + " to RID [1] - 5.1.1 - No such user"), log.toString());
            assertTrue(log.contains("Message done DCID " + dcid + " MID " + mid + " to RID [0]"), log.toString());
        }
    }

    /**
     * The certificate assigned to slot {@code outbound} in cert-service is presented as TLS
     * client certificate; the peer (asking for one) sees its subject.
     */
    @Test
    @Order(4)
    void theOutboundSlotsCertificateIsPresentedAsClientCertificate() throws Exception {
        ok(send("POST", 8081, "/api/v1/destinations", "application/json",
                "{\"key\":\"clientcert.test\",\"tls\":\"REQUIRED_VERIFY\"}"));
        ok(send("POST", 8082, "/api/v1/certificates", "application/json", "{\"name\":\"outbound-it\","
                + "\"commonName\":\"gateway.tlsgate.test\",\"subjectAltNames\":[\"gateway.tlsgate.test\"],"
                + "\"keyType\":\"EC_P256\",\"validityDays\":30}"));
        String csr = ok(send("GET", 8082, "/api/v1/certificates/outbound-it/csr", null, null));
        X509Certificate signed = TestPki.issue(root, TestPki.csrPublicKey(csr),
                TestPki.Spec.server("gateway.tlsgate.test", "gateway.tlsgate.test"));
        ok(send("PUT", 8082, "/api/v1/certificates/outbound-it/certificate", "application/x-pem-file",
                TestPki.pem(signed) + root.certificatePem()));
        ok(send("PUT", 8082, "/api/v1/assignments/outbound", "application/json", "{\"certificate\":\"outbound-it\"}"));

        InetAddress address = InetAddress.getByName("127.0.2.3");
        dns.mx("clientcert.test", 10, "mx.clientcert.test").address("mx.clientcert.test", address.getHostAddress());
        SSLContext ctx = context(issued(TestPki.Spec.server("mx.clientcert.test", "mx.clientcert.test")), false, true);
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("clientcert", ctx).requestClientCertificate(), address,
                smtpPort)) {
            Thread.sleep(1500); // past delivery's certificate refresh (1 s here)
            long mid = enqueue("sender@origin.test", List.of("user@clientcert.test"), "X-Row: clientcert");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("DONE", m.get("state").asText(), m.toString());
            ScriptedSmtpPeer.Received got = peer.received().get(0);
            assertTrue(got.tls());
            assertTrue(got.clientSubject() != null && got.clientSubject().startsWith("CN=gateway.tlsgate.test,"),
                    "the outbound slot's certificate: " + got.clientSubject());
        }
    }

    /**
     * A CIDR destination entry applies to a connection whose next hop is in its range when the
     * recipient domain has no entry of its own: REQUIRED_VERIFY for 127.0.1.0/30 keeps a
     * domain whose MX is the no-STARTTLS peer (127.0.1.2) from going out in plaintext, while
     * the same peer through a domain entry still gets its mail.
     */
    @Test
    @Order(5)
    void aCidrEntryAppliesToAnMxAddressInItsRange() throws Exception {
        String domain = "cidr-range.test";
        dns.mx(domain, 10, "mx." + domain).address("mx." + domain, "127.0.1.2"); // no-starttls peer
        ok(send("POST", 8081, "/api/v1/destinations", "application/json",
                "{\"key\":\"127.0.1.0/30\",\"tls\":\"REQUIRED_VERIFY\",\"bounceProfile\":\"it\"}"));
        try {
            int before = PEERS.get("no-starttls").received().size();
            long mid = enqueue("sender@origin.test", "user@" + domain, "X-Row: cidr");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("QUEUED", m.get("state").asText(), m.toString());
            JsonNode tls = m.get("attempts").get(0).get("tls");
            assertEquals("REQUIRED_VERIFY", tls.get("mode").asText(), m.toString());
            assertEquals("127.0.1.0/30", tls.get("modeSource").asText(), m.toString());
            assertEquals("failure", tls.get("result").asText(), m.toString());
            assertEquals(before, PEERS.get("no-starttls").received().size(), "nothing went out in plaintext");
        } finally {
            ok(send("DELETE", 8081, "/api/v1/destinations/127.0.1.0/30", null, null));
        }
    }

    /**
     * STARTTLS response injection through the whole path: an MX that answers STARTTLS with its
     * 220 and a forged reply in the same segment, then does TLS properly. The message stays
     * queued, the mail log and the outcome event name the injection, and the server never
     * sees MAIL FROM.
     */
    @Test
    @Order(6)
    void plaintextAfterThe220ToStarttlsDefersTheMessage() throws Exception {
        String domain = "injected.required.test";
        InetAddress address = InetAddress.getByName("127.0.2.9");
        dns.mx(domain, 10, "mx." + domain).address("mx." + domain, address.getHostAddress());
        SSLContext ctx = context(issued(TestPki.Spec.server("mx." + domain, "mx." + domain)), false, false);
        try (HostileSmtpPeer peer = new HostileSmtpPeer(address, smtpPort, ctx, c -> {
            c.send("220 mx.injected.test ESMTP\r\n");
            c.readLine();
            c.send("250-mx.injected.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
            c.readLine();
            c.send("220 2.0.0 Ready to start TLS\r\n250 2.0.0 injected\r\n");
            c.startTls();
            c.sleep(500);
            for (String l = c.readLine(); l != null; l = c.readLine()) {
                c.send(l.startsWith("DATA") ? "354 go\r\n" : "250 2.0.0 Ok\r\n");
            }
        })) {
            long mid = enqueue("sender@origin.test", "user@" + domain, "X-Row: injected");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("QUEUED", m.get("state").asText(), m.toString());
            JsonNode a = m.get("attempts").get(0);
            assertEquals("failure", a.get("tls").get("result").asText(), a.toString());
            assertEquals("validation-failure", a.get("tls").get("failure").asText(), a.toString());
            long dcid = a.get("dcid").asLong();
            assertTrue(mailLog().stream().anyMatch(l -> l.startsWith("DCID " + dcid + " TLS failed: STARTTLS response injection: ")
                    && l.contains("250 2.0.0 injected")), "mail log names the injection");
            JsonNode event = JSON.readTree(KafkaRecords.readUntil(kafka(), "tlsgate.tls-outcomes", rs -> rs.stream().anyMatch(
                    x -> domain.equals(x.key())), Duration.ofSeconds(30)).stream().filter(x -> domain.equals(x.key())).findFirst()
                    .orElseThrow(() -> new AssertionError("no outcome event for " + domain)).value());
            assertEquals("validation-failure", event.get("resultType").asText(), event.toString());
            assertTrue(event.get("reason").asText().startsWith("STARTTLS response injection: "), event.toString());
            assertTrue(peer.transcript().stream().noneMatch(l -> l.startsWith("C: MAIL")), peer.transcript().toString());
            assertTrue(peer.errors().isEmpty(), peer.errors().toString());
        }
    }

    /**
     * Connection reuse through the cluster: 200 messages for one domain whose entry allows 50
     * per connection all arrive over TLS, never more than 50 on one connection. How many
     * connections depends on how the workers' claims cut the 200 while they trickle in (each
     * claim is delivered on its own connections; there is no idle pool across claims yet);
     * with a backlog, 50 a connection: DomainDeliveryTest shows 200 over exactly 4.
     */
    @Test
    @Order(7)
    void messagesForOneDomainShareConnections() throws Exception {
        String domain = "reuse.test";
        ok(send("POST", 8081, "/api/v1/destinations", "application/json", "{\"key\":\"" + domain
                + "\",\"tls\":\"REQUIRED\",\"maxMessagesPerConnection\":50,\"bounceProfile\":\"it\"}"));
        InetAddress address = InetAddress.getByName("127.0.2.11");
        dns.mx(domain, 10, "mx." + domain).address("mx." + domain, address.getHostAddress());
        SSLContext ctx = context(issued(TestPki.Spec.server("mx." + domain, "mx." + domain)), false, false);
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("reuse", ctx), address, smtpPort)) {
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

    /** With the global alert setting off, a required-TLS failure is logged and reported as an outcome, but nobody is paged. */
    @Test
    @Order(8)
    void noAlertWhenTheGlobalSettingIsOff() throws Exception {
        ok(send("PUT", 8081, "/api/v1/settings/outbound", "application/json", "{\"alertOnRequiredTlsFailure\":false}"));
        try {
            String domain = "quiet.required.test";
            dns.mx(domain, 10, "mx." + domain).address("mx." + domain, "127.0.1.2"); // no-starttls peer
            long mid = enqueue("sender@origin.test", "user@" + domain, "X-Row: quiet");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("QUEUED", m.get("state").asText());
            KafkaRecords.readUntil(kafka(), "tlsgate.tls-outcomes", rs -> rs.stream().anyMatch(x -> domain.equals(x.key())),
                    Duration.ofSeconds(30)).stream().filter(x -> domain.equals(x.key())).findFirst()
                    .orElseThrow(() -> new AssertionError("no outcome event for " + domain));
            assertEquals(0, KafkaRecords.readUntil(kafka(), "tlsgate.tls-alerts", rs -> false, Duration.ofSeconds(5)).stream()
                    .filter(x -> domain.equals(x.key())).count(), "no alert with the setting off");
        } finally {
            ok(send("PUT", 8081, "/api/v1/settings/outbound", "application/json", "{\"alertOnRequiredTlsFailure\":true}"));
        }
    }

    /** Kafka stopped: mail keeps flowing; when the broker is back the buffered outcome events arrive. */
    @Test
    @Order(9)
    void mailFlowsWhileKafkaIsDownAndTheEventsFollow() throws Exception {
        String domain = "valid.preferred.test";
        stack.stopKafka();
        List<Long> mids = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                mids.add(enqueue("sender@origin.test", "user" + i + "@" + domain, "X-Row: kafka-down " + i));
            }
            for (long mid : mids) {
                JsonNode m = awaitAttempt(mid, Duration.ofSeconds(120));
                assertEquals("DONE", m.get("state").asText(), "delivered while Kafka is down: " + m);
            }
        } finally {
            stack.startKafka();
        }
        List<ConsumerRecord<String, byte[]>> outcomes = KafkaRecords.readUntil(kafka(), "tlsgate.tls-outcomes",
                rs -> midsSeen(rs, domain).containsAll(mids), Duration.ofSeconds(120));
        assertTrue(midsSeen(outcomes, domain).containsAll(mids), "buffered events after Kafka came back: saw "
                + midsSeen(outcomes, domain) + ", wanted " + mids);
    }

    /**
     * kill -9 of delivery-service with 1,000 messages queued and in flight: after a restart
     * every message is delivered; duplicates only for the ones that were in flight.
     */
    @Test
    @Order(10)
    void killMinus9WithAThousandMessagesLosesNone() throws Exception {
        String domain = "bulk.none.test";
        InetAddress address = InetAddress.getByName("127.0.2.1");
        dns.mx(domain, 10, "mx." + domain).address("mx." + domain, address.getHostAddress());
        try (ScriptedSmtpPeer bulk = new ScriptedSmtpPeer(Script.tls("bulk", null).noStarttls(), address, smtpPort)) {
            // Queue all 1,000 first (scheduler off), then let it run and kill it mid-way.
            stack.restart("delivery-service", Map.of("TLSGATE_DELIVERY_SCHEDULER_ENABLED", "false"));
            List<Long> mids = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                mids.add(enqueue("sender@origin.test", "user@" + domain, "X-Seq: " + i));
            }
            assertEquals(0, bulk.received().size());
            stack.restart("delivery-service");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (bulk.received().size() < 150 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            stack.service("delivery-service").kill();
            int atKill = bulk.received().size();
            assertTrue(atKill >= 150 && atKill < 1000, "killed mid-way: " + atKill + " delivered at the kill");
            stack.restart("delivery-service");

            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
            JsonNode queue = null;
            while (System.nanoTime() < deadline) {
                queue = JSON.readTree(ok(send("GET", 8083, "/api/v1/queue", null, null)));
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
                assertEquals("DONE", JSON.readTree(ok(send("GET", 8083, "/api/v1/messages/" + mid, null, null)))
                        .get("state").asText());
            }
        }
    }

    // --- helpers

    private static void startPeers() throws Exception {
        Instant now = Instant.now();
        List<String> domains = new ArrayList<>();
        List<String> mxs = new ArrayList<>();
        for (int i = 0; i < PEER_KINDS.size(); i++) {
            String kind = PEER_KINDS.get(i);
            String ip = "127.0.1." + (i + 1);
            List<String> ds = MODES.stream().map(m -> domain(kind, m)).toList();
            for (String d : ds) {
                dns.mx(d, 10, "mx." + d).address("mx." + d, ip);
            }
            domains.clear();
            mxs.clear();
            domains.addAll(ds);
            ds.forEach(d -> mxs.add("mx." + d));
            List<String> all = new ArrayList<>(mxs);
            all.addAll(domains);
            SSLContext ctx = switch (kind) {
                case "self-signed" -> context(TestPki.selfSignedCa(mxs.get(0), Duration.ofDays(30)), true);
                case "expired" -> context(issued(TestPki.Spec.server(mxs.get(0), all.toArray(String[]::new))
                        .validity(now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)))), false);
                case "wrong-host" -> context(issued(TestPki.Spec.server("other.test", "other.test")), false);
                case "mx-not-domain" -> context(issued(TestPki.Spec.server(mxs.get(0), mxs.toArray(String[]::new))), false);
                case "domain-not-mx" -> context(issued(TestPki.Spec.server(domains.get(0), domains.toArray(String[]::new))), false);
                default -> context(issued(TestPki.Spec.server(mxs.get(0), all.toArray(String[]::new))), false);
            };
            Script s = Script.tls(kind, ctx);
            s = switch (kind) {
                case "no-esmtp" -> s.noEsmtp();
                case "no-starttls" -> s.noStarttls();
                case "starttls-454" -> s.starttlsReply("454 4.7.0 TLS not available due to temporary reason");
                case "handshake-fails" -> s.failingHandshake();
                default -> s;
            };
            PEERS.put(kind, new ScriptedSmtpPeer(s, InetAddress.getByName(ip), smtpPort));
        }
    }

    /**
     * One peer behind an SMTP route: the route kind ({@code v4}, {@code v6}, {@code host}), the
     * table's peer kind, the hop as the route is written, the hop as the attempt shows it, its
     * port, and the route's host name (null for an address).
     */
    private record RoutePeer(String route, String kind, ScriptedSmtpPeer peer, String hop, String hopName, int port,
            String name) {}

    /** A peer of kind {@code kind} (the {@code i}th) behind a route of kind {@code route}, with its DNS records. */
    private static RoutePeer routePeer(String route, int i, String kind, int v4Port) throws Exception {
        List<String> domains = MODES.stream().map(m -> kind + "." + route + "." + label(m) + ".test").toList();
        InetAddress address = InetAddress.getByName(switch (route) {
            case "v4" -> "127.0.3." + (i + 1);
            case "v6" -> "::1";
            default -> "127.0.4." + (i + 1);
        });
        String text = route.equals("v6") ? "::1" : address.getHostAddress();
        String name = route.equals("host") ? "relay-" + kind + ".routes.test" : null;
        if (name != null) {
            dns.address(name, text);
        }
        // The names of the next hop: the route host name; an address as CN, DNS SAN (its text,
        // IPv4 only: "::1" is no DNS name) and iPAddress SAN.
        String cn = name != null ? name : text;
        List<String> hopNames = name != null ? List.of(name)
                : route.equals("v4") ? List.of(text, "IP:" + text) : List.of("IP:" + text);
        List<String> all = new ArrayList<>(hopNames);
        all.addAll(domains);
        Instant now = Instant.now();
        SSLContext ctx = switch (kind) {
            case "self-signed" -> context(TestPki.selfSignedCa(cn, Duration.ofDays(30)), true);
            case "expired" -> context(issued(TestPki.Spec.server(cn, all.toArray(String[]::new))
                    .validity(now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)))), false);
            case "wrong-host" -> context(issued(TestPki.Spec.server("other.test", "other.test")), false);
            case "mx-not-domain" -> context(issued(TestPki.Spec.server(cn, hopNames.toArray(String[]::new))), false);
            case "domain-not-mx" -> context(issued(TestPki.Spec.server(domains.get(0), domains.toArray(String[]::new))), false);
            default -> context(issued(TestPki.Spec.server(cn, all.toArray(String[]::new))), false);
        };
        Script s = Script.tls(route + "-" + kind, ctx);
        s = switch (kind) {
            case "no-esmtp" -> s.noEsmtp();
            case "no-starttls" -> s.noStarttls();
            case "starttls-454" -> s.starttlsReply("454 4.7.0 TLS not available due to temporary reason");
            case "handshake-fails" -> s.failingHandshake();
            default -> s;
        };
        // IPv6 has only ::1 here: a port per peer.
        ScriptedSmtpPeer peer = new ScriptedSmtpPeer(s, address, route.equals("v6") ? 0 : v4Port);
        int port = peer.port();
        String hop = switch (route) {
            case "v4" -> text + ":" + port;
            case "v6" -> "[" + text + "]:" + port;
            default -> name + ":" + port;
        };
        return new RoutePeer(route, kind, peer, hop, name != null ? name : "[" + text + "]", port, name);
    }

    private static String routeDomain(RoutePeer p, String mode) {
        return p.kind() + "." + p.route() + "." + label(mode) + ".test";
    }

    private static String header(RoutePeer p, String mode) {
        return "X-Row: " + p.route() + " " + mode + " " + p.kind();
    }

    private static String domain(String peer, String mode) {
        return peer + "." + label(mode) + ".test";
    }

    private static String label(String mode) {
        return mode.toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private static long enqueue(String from, String to, String header) {
        return enqueue(from, List.of(to), header);
    }

    private static long enqueue(String from, List<String> to, String header) {
        byte[] body = ("From: <" + from + ">\r\nTo: <" + to.get(0) + ">\r\nSubject: cluster test\r\n" + header
                + "\r\n\r\n.a line with a leading dot\r\nbody\r\n").getBytes(StandardCharsets.US_ASCII);
        return ClusterApi.enqueue(delivery, from, to, body);
    }

    /** The message once a delivery attempt and its recipients' results are recorded. */
    private static JsonNode awaitAttempt(long mid, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode m = null;
        while (System.nanoTime() < deadline) {
            m = JSON.readTree(ok(send("GET", 8083, "/api/v1/messages/" + mid, null, null)));
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
        fail("no delivery attempt for MID " + mid + " within " + timeout + ": " + m + "\n" + stack.service("delivery-service")
                .tail(40));
        return null;
    }

    private static List<String> mailLog() throws Exception {
        return api.mailLog("delivery-service");
    }

    private static java.util.Set<Long> midsSeen(List<ConsumerRecord<String, byte[]>> rs, String domain) {
        java.util.Set<Long> out = new java.util.HashSet<>();
        for (ConsumerRecord<String, byte[]> r : rs) {
            if (domain.equals(r.key())) {
                try {
                    JSON.readTree(r.value()).get("mids").forEach(x -> out.add(x.asLong()));
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

    private static String text(JsonNode n) {
        return n == null || n.isNull() ? "" : n.asText();
    }

    private static String kafka() {
        return api.kafka();
    }

    private static HttpResponse<String> send(String method, int basePort, String path, String type, String body) throws Exception {
        return api.send(method, basePort, path, type, body);
    }

    private static DevSecrets secrets() throws java.io.IOException {
        return api.secrets();
    }

    private static String ok(HttpResponse<String> r) {
        return ClusterApi.ok(r);
    }

    private static TestPki.Issued issued(TestPki.Spec spec) {
        KeyPair kp = TestPki.ecKeys();
        return new TestPki.Issued(kp, TestPki.issue(root, kp.getPublic(), spec));
    }

    /** A peer's TLS context; {@code trustRoot}: client certificates from the test root are accepted. */
    private static SSLContext context(TestPki.Issued id, boolean selfSigned, boolean trustRoot) {
        X509Certificate[] chain = selfSigned ? new X509Certificate[] {id.certificate()}
                : new X509Certificate[] {id.certificate(), root.certificate()};
        return TestPki.serverContext(id.keys(), trustRoot ? root.certificate() : null, chain);
    }

    private static SSLContext context(TestPki.Issued id, boolean selfSigned) {
        return context(id, selfSigned, false);
    }

}
