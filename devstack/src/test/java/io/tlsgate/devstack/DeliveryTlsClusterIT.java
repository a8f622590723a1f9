package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.MODES;
import static io.tlsgate.devstack.DeliveryCluster.PEER_KINDS;
import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.awaitAttempt;
import static io.tlsgate.devstack.DeliveryCluster.dns;
import static io.tlsgate.devstack.DeliveryCluster.domain;
import static io.tlsgate.devstack.DeliveryCluster.enqueue;
import static io.tlsgate.devstack.DeliveryCluster.kafka;
import static io.tlsgate.devstack.DeliveryCluster.label;
import static io.tlsgate.devstack.DeliveryCluster.mailLog;
import static io.tlsgate.devstack.DeliveryCluster.peer;
import static io.tlsgate.devstack.DeliveryCluster.peerContext;
import static io.tlsgate.devstack.DeliveryCluster.peerScript;
import static io.tlsgate.devstack.DeliveryCluster.smtpPort;
import static io.tlsgate.devstack.DeliveryCluster.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.KafkaRecords;
import io.tlsgate.testkit.OutboundDecisionTable;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Outbound TLS in the {@link DeliveryCluster}: the golden table of the six modes against the
 * ten peers (core's outbound-decisions.csv), through the whole path, to the next hop from the
 * MX lookup and from an SMTP route.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class DeliveryTlsClusterIT {

    /** SMTP routes to an IPv4 literal, an IPv6 literal, a host name. */
    private static final List<String> ROUTES = List.of("v4", "v6", "host");

    /**
     * The golden table of the six modes against the ten peers (core's outbound-decisions.csv),
     * now through the whole path: one domain per row ({@code <peer>.<mode>.test}, its mode from
     * a destination entry), MX on the peer's loopback address.
     */
    @Test
    void everyModeAgainstEveryPeerThroughTheCluster() throws Exception {
        List<OutboundDecisionTable.Row> rows = OutboundDecisionTable.rows();
        assertEquals(60, rows.size());
        Map<String, Long> mids = new LinkedHashMap<>();
        for (OutboundDecisionTable.Row r : rows) {
            String domain = domain(r.peer(), r.mode());
            mids.put(domain, enqueue("sender@origin.test", "user@" + domain, "X-Row: " + r.mode() + " " + r.peer()));
        }
        Results results = awaitResults(mids);

        List<String> failures = new ArrayList<>();
        for (OutboundDecisionTable.Row r : rows) {
            String domain = domain(r.peer(), r.mode());
            try {
                checkRow(r, domain, mids.get(domain), results, new Via(peer(r.peer()), "X-Row: " + r.mode() + " " + r.peer(),
                        "mx." + domain, smtpPort(), "mx." + domain, null, null));
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

    /** What became of the messages of some rows: each message after its attempt, the mail log, the outcome events and alerts. */
    private record Results(Map<String, JsonNode> messages, List<String> log, List<ConsumerRecord<String, byte[]>> outcomes,
            List<ConsumerRecord<String, byte[]>> alerts) {}

    /** Waits for an attempt on each message ({@code mids} by domain), then for the outcome event of each domain. */
    private static Results awaitResults(Map<String, Long> mids) throws Exception {
        Map<String, JsonNode> messages = new LinkedHashMap<>();
        for (Map.Entry<String, Long> e : mids.entrySet()) {
            messages.put(e.getKey(), awaitAttempt(e.getValue(), Duration.ofSeconds(180)));
        }
        List<String> log = mailLog();
        List<ConsumerRecord<String, byte[]>> outcomes = KafkaRecords.readUntil(kafka(), "tlsgate.tls-outcomes",
                rs -> mids.keySet().stream().allMatch(d -> rs.stream().anyMatch(x -> d.equals(x.key()))), Duration.ofSeconds(60));
        List<ConsumerRecord<String, byte[]>> alerts = KafkaRecords.readUntil(kafka(), "tlsgate.tls-alerts",
                rs -> false, Duration.ofSeconds(5));
        return new Results(messages, log, outcomes, alerts);
    }

    private void checkRow(OutboundDecisionTable.Row r, String domain, long mid, Results results, Via via) throws Exception {
        JsonNode m = results.messages().get(domain);
        List<String> log = results.log();
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
        for (ConsumerRecord<String, byte[]> o : results.outcomes()) {
            if (domain.equals(o.key())) {
                events.add(ClusterApi.JSON.readTree(o.value()));
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
        long alertCount = results.alerts().stream().filter(x -> domain.equals(x.key())).count();
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
    void everyModeAgainstEveryPeerOverSmtpRoutes() throws Exception {
        Map<String, OutboundDecisionTable.Row> table = new LinkedHashMap<>();
        for (OutboundDecisionTable.Row r : OutboundDecisionTable.rows()) {
            table.put(r.mode() + " " + r.peer(), r);
        }
        assertEquals(60, table.size());
        List<RoutePeer> peers = new ArrayList<>();
        try {
            int port = ClusterApi.freePort("127.0.3.1");
            for (String route : ROUTES) {
                for (int i = 0; i < PEER_KINDS.size(); i++) {
                    peers.add(routePeer(route, i, PEER_KINDS.get(i), port));
                }
            }
            String last = null;
            for (RoutePeer p : peers) {
                for (String mode : MODES) {
                    last = routeDomain(p, mode);
                    api().ok("POST", 8081, "/api/v1/smtp-routes", "{\"domain\":\"" + last + "\",\"hops\":[\"" + p.hop() + "\"]}");
                }
            }
            // policy-service reloads before it answers a change: the routes are in effect.
            JsonNode resolved = api().get(8081, "/api/v1/smtp-routes/resolve?domain=" + last);
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
            Results results = awaitResults(mids);
            System.out.printf("routes: %d messages attempted (and their events read) in %d ms%n", mids.size(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));

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
                        checkRow(r, domain, mids.get(domain), results, new Via(p.peer(), header(p, mode), p.hopName(), p.port(),
                                p.name(), reference, references));
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
            dns().address(name, text);
        }
        // The names of the next hop: the route host name; an address as CN, DNS SAN (its text,
        // IPv4 only: "::1" is no DNS name) and iPAddress SAN.
        String cn = name != null ? name : text;
        List<String> hopNames = name != null ? List.of(name)
                : route.equals("v4") ? List.of(text, "IP:" + text) : List.of("IP:" + text);
        List<String> all = new ArrayList<>(hopNames);
        all.addAll(domains);
        SSLContext ctx = peerContext(kind, cn, hopNames, all, domains);
        ScriptedSmtpPeer.Script s = peerScript(route + "-" + kind, kind, ctx);
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
}
