package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.PEER_KINDS;
import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.dns;
import static io.tlsgate.devstack.DeliveryCluster.domain;
import static io.tlsgate.devstack.DeliveryCluster.mx;
import static io.tlsgate.devstack.DeliveryCluster.peerAddress;
import static io.tlsgate.devstack.DeliveryCluster.smtpPort;
import static io.tlsgate.devstack.DeliveryCluster.spkiSha256;
import static io.tlsgate.devstack.DeliveryCluster.tlsaName;
import static io.tlsgate.devstack.DeliveryCluster.untrusted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tlsgate.testkit.OutboundDecisionTable;
import io.tlsgate.testkit.PostfixPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The TLS check ({@code POST /api/v1/tls-check}) against the {@link DeliveryCluster}'s loopback
 * peers: every column of each host's report, and its per-mode verdicts against the golden
 * table of what a delivery does (core's outbound-decisions.csv).
 */
@ExtendWith(DeliveryCluster.Shared.class)
class TlsCheckClusterIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<AutoCloseable> OWN = java.util.Collections.synchronizedList(new ArrayList<>());

    @AfterAll
    static void down() throws Exception {
        ClusterApi.closeAll(OWN.toArray(AutoCloseable[]::new));
    }

    /** Each of the ten peers under a REQUIRED_VERIFY entry: its report, column by column, and six verdicts as the table says. */
    @Test
    void everyPeerIsReportedAndJudgedInEveryModeAsADeliveryWouldGo() throws Exception {
        Map<String, List<OutboundDecisionTable.Row>> table = OutboundDecisionTable.rows().stream()
                .collect(Collectors.groupingBy(OutboundDecisionTable.Row::peer));
        List<String> failures = new ArrayList<>();
        for (String kind : PEER_KINDS) {
            String d = domain(kind, "REQUIRED_VERIFY");
            JsonNode r = check("{\"target\":\"" + d + "\"}");
            try {
                assertReport(kind, d, r, table.get(kind));
            } catch (AssertionError e) {
                failures.add(kind + ": " + e.getMessage() + "\n    " + r);
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    private static void assertReport(String kind, String d, JsonNode r, List<OutboundDecisionTable.Row> rows) {
        assertEquals(d, r.get("target").asText());
        assertEquals(d, r.get("domain").asText());
        assertEquals("effective", r.get("judgedMode").asText());
        assertFalse(r.get("timedOut").asBoolean());
        assertEquals(".required-verify.test", r.at("/destination/matchedKey").asText());
        assertEquals("REQUIRED_VERIFY", r.at("/destination/mode").asText());
        assertEquals("mx." + d, r.at("/dns/mx/0/name").asText());
        assertEquals(10, r.at("/dns/mx/0/preference").asInt());
        assertEquals(peerAddress(kind), r.at("/dns/mx/0/addresses/0").asText());
        assertFalse(r.at("/dns/secure").asBoolean(), "an unsigned zone");
        assertTrue(r.get("mtaSts").isNull(), "no MTA-STS policy");
        assertEquals(1, r.get("hosts").size());

        JsonNode h = r.get("hosts").get(0);
        assertEquals("mx." + d, h.get("name").asText());
        assertEquals(10, h.get("preference").asInt());
        assertFalse(h.get("route").asBoolean());
        assertEquals(peerAddress(kind), h.get("address").asText());
        assertEquals(smtpPort(), h.get("port").asInt());
        assertFalse(h.get("dnsSecure").asBoolean());
        assertTrue(h.get("tlsa").isNull());
        assertTrue(h.get("mtaSts").isNull());
        assertEquals("REQUIRED_VERIFY", h.at("/rule/mode").asText());
        assertEquals(".required-verify.test", h.at("/rule/source").asText());
        assertTrue(h.at("/timings/connectMs").isNumber() && h.at("/timings/greetingMs").isNumber()
                && h.at("/timings/ehloMs").isNumber(), "connect, greeting and EHLO timed");
        assertTrue(h.get("greeting").asText().startsWith("220"), "greeting");

        boolean esmtp = !kind.equals("no-esmtp");
        boolean offered = esmtp && !kind.equals("no-starttls");
        boolean handshake = offered && !kind.equals("starttls-454") && !kind.equals("handshake-fails");
        assertEquals(esmtp ? List.of("STARTTLS", "8BITMIME").stream().filter(k -> offered || !k.equals("STARTTLS")).toList()
                : List.of(), texts(h.get("ehlo")).stream().filter(k -> !k.equals("PIPELINING")).toList(), "EHLO keywords");
        assertEquals(offered, h.get("starttlsOffered").asBoolean());
        assertEquals(!offered ? null : kind.equals("starttls-454") ? "454 4.7.0 TLS not available due to temporary reason"
                : "220 2.0.0 Ready to start TLS", h.get("starttlsReply").isNull() ? null : h.get("starttlsReply").asText());
        assertEquals(offered, h.at("/timings/starttlsMs").isNumber(), "STARTTLS timed when sent");
        assertEquals(offered && !kind.equals("starttls-454"), h.at("/timings/handshakeMs").isNumber(), "handshake timed when tried");
        if (handshake) {
            assertEquals("TLSv1.3", h.at("/tls/protocol").asText());
            assertTrue(h.at("/tls/cipher").asText().startsWith("TLS_AES_") || h.at("/tls/cipher").asText().startsWith("TLS_CHACHA"),
                    h.at("/tls/cipher").asText());
            assertTrue(List.of("x25519", "secp256r1", "secp384r1", "x448", "ffdhe2048").contains(h.at("/tls/keyExchange").asText()),
                    "the key exchange from the ServerHello: " + h.at("/tls/keyExchange"));
        } else {
            assertTrue(h.get("tls").isNull(), "no TLS");
            assertTrue(h.get("certificates").isEmpty(), "no certificates");
        }
        if (kind.equals("handshake-fails")) {
            assertTrue(h.get("error").asText().startsWith("TLS handshake failed: "), h.get("error").asText());
            assertTrue(h.at("/probe/mailFrom").isNull(), "the connection is gone after a failed handshake");
        } else {
            assertTrue(h.at("/probe/mailFrom").asText().startsWith("250"), "MAIL FROM probed");
            assertTrue(h.at("/probe/rcptTo").asText().startsWith("250"), "RCPT TO probed");
            assertTrue(h.at("/probe/rset").asText().startsWith("250"), "RSET");
            assertTrue(h.at("/probe/quit").asText().startsWith("221"), "QUIT");
            assertTrue(h.at("/timings/probeMs").isNumber());
            assertTrue(h.get("error").isNull(), h.get("error").toString());
        }

        // certificates, names and the score, per kind (docs/delivery.md, "TLS check")
        String leaf = h.at("/certificates/0/verdict").asText(null);
        String mxName = "mx." + d;
        Boolean namesMx = h.get("names").isEmpty() ? null : h.at("/names/0/matches").asBoolean();
        Boolean namesDomain = h.get("names").size() < 2 ? null : h.at("/names/1/matches").asBoolean();
        int score;
        switch (kind) {
            case "valid", "mx-not-domain", "domain-not-mx", "wrong-host" -> {
                assertEquals(2, h.get("certificates").size(), "leaf and the cluster's root");
                assertEquals("ok", leaf);
                assertEquals("ok", h.at("/certificates/1/verdict").asText());
                assertEquals("a trusted CA", h.at("/certificates/1/reason").asText());
                assertTrue(h.at("/certificates/0/issuer").asText().contains("Cluster IT Peers Root"));
                boolean mxOk = !kind.equals("wrong-host") && !kind.equals("domain-not-mx");
                boolean domainOk = kind.equals("valid") || kind.equals("domain-not-mx");
                assertEquals(mxOk, namesMx, "names the MX host");
                assertEquals(domainOk, namesDomain, "names the domain");
                assertEquals(mxName, h.at("/names/0/name").asText());
                assertEquals("mx", h.at("/names/0/kind").asText());
                assertEquals(d, h.at("/names/1/name").asText());
                assertEquals("domain", h.at("/names/1/kind").asText());
                score = mxOk ? 90 : 80;
            }
            case "self-signed" -> {
                assertEquals(1, h.get("certificates").size());
                assertEquals("self-signed", leaf);
                assertEquals(false, namesMx);
                score = 60;
            }
            case "expired" -> {
                assertEquals("expired", leaf);
                assertTrue(h.at("/certificates/0/reason").asText().startsWith("expired on "));
                assertTrue(h.at("/certificates/0/notAfter").asText().length() > 10, "validity shown");
                assertTrue(texts(h.at("/certificates/0/sans")).contains(mxName), "SANs shown");
                assertEquals(true, namesMx);
                score = 70;
            }
            default -> score = 20; // reachable, no TLS
        }
        assertEquals(score, h.get("score").asInt(), "score: " + h.get("scoreNotes"));

        // the six modes, as a delivery decides (the golden table)
        assertEquals(6, h.get("verdicts").size());
        for (OutboundDecisionTable.Row row : rows) {
            JsonNode v = verdict(h.get("verdicts"), row.mode());
            String expected = switch (row.action()) {
                case "SEND_ENCRYPTED" -> "deliver-tls";
                case "SEND_PLAINTEXT" -> "deliver-plaintext";
                default -> "defer";
            };
            assertEquals(expected, v.get("outcome").asText(), row.mode() + ": " + v.get("text").asText());
            assertTrue(v.get("text").asText().startsWith(row.mode() + ": would "), v.get("text").asText());
        }
        JsonNode rv = verdict(h.get("verdicts"), "REQUIRED_VERIFY");
        if (kind.equals("wrong-host")) {
            assertEquals("REQUIRED_VERIFY: would defer, certificate-host-mismatch: certificate names [other.test, other.test] match none of [" + mxName + ", " + d + "]",
                    rv.get("text").asText());
        }
        if (kind.equals("valid")) {
            assertEquals("REQUIRED_VERIFY: would deliver over TLS, certificate verified (" + mxName + ")", rv.get("text").asText());
        }
        // the effective rules are the entry's REQUIRED_VERIFY here; the headline verdict says where it goes
        assertEquals(rv.get("outcome").asText(), h.at("/effective/outcome").asText());
        assertEquals(rv.get("outcome").asText(), r.at("/verdict/outcome").asText());
        assertEquals(7, r.get("verdicts").size(), "six modes and the effective rules");
        if (!rv.get("outcome").asText().equals("defer")) {
            assertTrue(r.at("/verdict/text").asText().endsWith(" via " + mxName), r.at("/verdict/text").asText());
        }
    }

    /** An address: its own entry (default here), no names to check; a mode asked for is the headline. */
    @Test
    void anAddressIsCheckedUnderTheModeAskedFor() throws Exception {
        JsonNode r = check("{\"target\":\"" + peerAddress("valid") + "\",\"mode\":\"required_verify\"}");
        assertEquals("REQUIRED_VERIFY", r.get("judgedMode").asText());
        assertTrue(r.get("domain").isNull());
        assertTrue(r.get("dns").isNull(), "no MX lookup for an address");
        assertEquals("default", r.at("/destination/matchedKey").asText());
        JsonNode h = r.get("hosts").get(0);
        assertEquals(peerAddress("valid"), h.get("name").asText());
        assertTrue(h.get("route").asBoolean());
        assertTrue(h.get("names").isEmpty(), "an address is not a name to look for");
        assertEquals("deliver-tls", verdict(h.get("verdicts"), "REQUIRED").get("outcome").asText());
        // the certificate names hosts, not the address: REQUIRED_VERIFY defers
        assertEquals("defer", r.at("/verdict/outcome").asText(), r.at("/verdict/text").asText());
        assertTrue(r.at("/verdict/text").asText().startsWith("REQUIRED_VERIFY: would defer, every host would defer: "),
                r.at("/verdict/text").asText());
        assertTrue(h.at("/probe/rcptTo").isNull(), "no recipient to ask for at an address");
    }

    /** DANE: the TLSA records, what they require and the effective rules are in the report; DNS authenticates the host. */
    @Test
    void daneRecordsAndWhatTheyRequireAreReported() throws Exception {
        String d = "check-ee.dane.test";
        TestPki.Issued self = untrusted("mx." + d);
        ScriptedSmtpPeer peer = own(new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("check-ee",
                TestPki.serverContext(self.keys(), null, self.certificate())), InetAddress.getByName("127.0.4.150"), smtpPort()));
        mx(d, "127.0.4.150");
        dns().tlsa(tlsaName(d), 3, 1, 1, spkiSha256(self.certificate().getPublicKey()));
        JsonNode r = check("{\"target\":\"" + d + "\"}");
        assertTrue(r.at("/dns/secure").asBoolean(), "a signed zone: " + r.get("dns"));
        assertTrue(r.at("/dns/daneApplied").asBoolean());
        JsonNode h = r.get("hosts").get(0);
        assertTrue(h.get("dnsSecure").asBoolean());
        assertEquals(tlsaName(d), h.at("/tlsa/name").asText());
        assertEquals("usable", h.at("/tlsa/kind").asText());
        assertTrue(h.at("/tlsa/records/0").asText().startsWith("3 1 1 "), h.get("tlsa").toString());
        assertTrue(h.at("/tlsa/requires").asText().startsWith("REQUIRED_VERIFY"), h.get("tlsa").toString());
        assertEquals("REQUIRED_VERIFY", h.at("/rule/mode").asText());
        assertEquals("dane TLSA " + tlsaName(d), h.at("/rule/source").asText());
        assertEquals("deliver-tls", h.at("/effective/outcome").asText(), h.get("effective").toString());
        assertTrue(h.at("/effective/text").asText().contains("DANE TLSA"), h.at("/effective/text").asText());
        // PKIX modes of the destination controls alone would not verify this certificate (no trusted CA)
        assertEquals("defer", verdict(h.get("verdicts"), "REQUIRED_VERIFY").get("outcome").asText());
        assertEquals("certificate-not-trusted", h.at("/certificates/0/verdict").asText());
        assertEquals(80, h.get("score").asInt(), "no chain to a trusted CA, but named and DANE authenticates: " + h.get("scoreNotes"));
        assertEquals(0, peer.received().size(), "nothing delivered");
    }

    /** The probe ends with RSET and QUIT: a message is never sent. */
    @Test
    void theProbeNeverSendsAMessage() throws Exception {
        String d = "probe.check.test";
        TestPki.Issued id = DeliveryCluster.issued(TestPki.Spec.server("mx." + d, "mx." + d));
        ScriptedSmtpPeer peer = own(new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("probe",
                DeliveryCluster.context(id, false)), InetAddress.getByName("127.0.4.151"), smtpPort()));
        mx(d, "127.0.4.151");
        JsonNode r = check("{\"target\":\"" + d + "\",\"recipient\":\"someone@" + d + "\"}");
        assertEquals(90, r.at("/hosts/0/score").asInt(), r.at("/hosts/0/scoreNotes").toString());
        assertEquals(List.of("EHLO gateway.tlsgate.test", "STARTTLS", "EHLO gateway.tlsgate.test", "MAIL FROM:<>",
                "RCPT TO:<someone@" + d + ">", "RSET", "QUIT"), peer.commands());
        assertEquals(0, peer.received().size());
    }

    /**
     * Progress as server-sent events, one per step as it ends, then the result; a silent first MX
     * host and a short time limit: the second host is not probed, the report says so.
     */
    @Test
    void progressIsStreamedAndTheTimeLimitHolds() throws Exception {
        String d = "slow.check.test";
        ServerSocket silent = new ServerSocket();
        silent.bind(new InetSocketAddress("127.0.4.152", smtpPort()));
        Thread acceptor = new Thread(() -> {
            try {
                while (true) {
                    OWN.add(silent.accept()); // and never a word
                }
            } catch (java.io.IOException closed) {
                // the test is over
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();
        OWN.add(silent);
        TestPki.Issued id = DeliveryCluster.issued(TestPki.Spec.server("mx2." + d, "mx2." + d));
        own(new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("slow2", DeliveryCluster.context(id, false)),
                InetAddress.getByName("127.0.4.153"), smtpPort()));
        dns().mx(d, 10, "mx1." + d).address("mx1." + d, "127.0.4.152");
        dns().mx(d, 20, "mx2." + d).address("mx2." + d, "127.0.4.153");

        long t = System.nanoTime();
        HttpResponse<java.util.stream.Stream<String>> events = api().https().send(request("{\"target\":\"" + d
                + "\",\"timeoutSeconds\":2}", "text/event-stream"), HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, events.statusCode());
        assertTrue(events.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> names = new ArrayList<>();
        List<JsonNode> data = new ArrayList<>();
        List<Long> arrived = new ArrayList<>();
        StringBuilder body = new StringBuilder();
        String name = null;
        for (String line : (Iterable<String>) events.body()::iterator) {
            body.append(line).append('\n');
            if (line.startsWith("event:")) {
                name = line.substring(6).trim();
            } else if (line.startsWith("data:")) {
                names.add(name);
                data.add(JSON.readTree(line.substring(5).trim()));
                arrived.add((System.nanoTime() - t) / 1_000_000);
            }
        }
        long took = (System.nanoTime() - t) / 1_000_000;
        assertFalse(body.toString().contains("content-type"), "events carry event and data only: " + body);
        assertEquals("result", names.get(names.size() - 1), names.toString());
        assertEquals(List.of("dns", "rules", "connect", "error"), data.subList(0, data.size() - 1).stream()
                .map(p -> p.get("step").asText()).toList(), body.toString());
        // streamed as it happens: the connect event came while the silent host still held the check
        assertTrue(arrived.get(arrived.size() - 1) - arrived.get(2) >= 1000, "progress arrived live: " + arrived + " ms");
        assertEquals("mx1." + d, data.get(2).get("host").asText());
        JsonNode r = data.get(data.size() - 1);
        assertTrue(r.get("timedOut").asBoolean(), r.toString());
        assertEquals("the check's time limit was reached", r.at("/hosts/0/error").asText());
        assertEquals("not probed: the check's time limit was reached", r.at("/hosts/1/error").asText());
        assertEquals("defer", r.at("/verdict/outcome").asText());
        assertTrue(took < 10_000, "the 2 s limit holds: " + took + " ms");
    }

    /**
     * A real Postfix offering STARTTLS: the report shows its greeting, TLS and certificate, and
     * the TLS agreed is what Postfix's own posttls-finger gets (protocol, cipher, key exchange).
     */
    @Test
    void aRealPostfixIsReportedAsPosttlsFingerSeesIt() throws Exception {
        String d = "postfix.check.test";
        java.security.KeyPair kp = TestPki.ecKeys();
        java.security.cert.X509Certificate leaf = TestPki.issue(DeliveryCluster.root(), kp.getPublic(),
                TestPki.Spec.server("mx." + d, "mx." + d));
        try (PostfixPeer postfix = PostfixPeer.startWithTls(pkcs8(kp.getPrivate()) + TestPki.pem(leaf)
                + TestPki.pem(DeliveryCluster.root().certificate()))) {
            dns().mx(d, 10, "mx." + d).address("mx." + d, postfix.host());
            JsonNode r = check("{\"target\":\"" + d + "\",\"port\":" + postfix.port() + "}");
            JsonNode h = r.get("hosts").get(0);
            assertEquals(postfix.port(), h.get("port").asInt());
            assertEquals("220 " + postfix.hostname() + " ESMTP Postfix", h.get("greeting").asText());
            assertTrue(texts(h.get("ehlo")).contains("STARTTLS"), h.get("ehlo").toString());
            assertEquals("220 2.0.0 Ready to start TLS", h.get("starttlsReply").asText(), postfix.log());
            assertEquals("ok", h.at("/certificates/0/verdict").asText(), h.get("certificates").toString());
            assertTrue(h.at("/names/0/matches").asBoolean());
            assertTrue(h.at("/probe/rcptTo").asText().startsWith("250"), "Postfix relays for loopback: " + h.get("probe"));
            assertEquals("deliver-tls", verdict(h.get("verdicts"), "REQUIRED_VERIFY").get("outcome").asText());
            assertEquals(90, h.get("score").asInt(), h.get("scoreNotes").toString());
            assertEquals(List.of(), postfix.queued(), "the probe never sends a message");

            String finger = io.tlsgate.testkit.Commands.run(Duration.ofSeconds(60),
                    Map.of("MAIL_CONFIG", postfix.configDirectory().toString()), null, "/usr/sbin/posttls-finger", "-c", "-l", "may",
                    "[" + postfix.host() + "]:" + postfix.port()).output();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                    "TLS connection established to \\S+: (\\S+) with cipher (\\S+) .*key-exchange (\\S+)").matcher(finger);
            assertTrue(m.find(), finger);
            assertEquals(m.group(1), h.at("/tls/protocol").asText(), finger);
            assertEquals(m.group(2), h.at("/tls/cipher").asText(), finger);
            assertEquals(m.group(3).toLowerCase(java.util.Locale.ROOT), h.at("/tls/keyExchange").asText().toLowerCase(
                    java.util.Locale.ROOT), finger);
        }
    }

    /** A domain that does not exist: a delivery returns the message at once, and the check says so. */
    @Test
    void aDomainThatDoesNotExistWouldBounce() throws Exception {
        JsonNode r = check("{\"target\":\"nowhere.check.test\"}");
        assertTrue(r.get("hosts").isEmpty());
        assertEquals("domain nowhere.check.test does not exist", r.at("/dns/error").asText(), r.toString());
        assertEquals("bounce", r.at("/verdict/outcome").asText(), r.toString());
        assertEquals("effective: would return the message, domain nowhere.check.test does not exist", r.at("/verdict/text").asText());
    }

    /** Bad fields are 400 naming them; a destination checked too often gets 429 with Retry-After. */
    @Test
    void badInputIsRefusedAndChecksAreRateLimitedPerDestination() throws Exception {
        assertField("{}", "target");
        assertField("{\"target\":\"not a domain\"}", "target");
        assertField("{\"target\":\"example.test\",\"port\":0}", "port");
        assertField("{\"target\":\"example.test\",\"timeoutSeconds\":100000}", "timeoutSeconds");
        assertField("{\"target\":\"example.test\",\"mode\":\"SOMETIMES\"}", "mode");
        assertField("{\"target\":\"example.test\",\"recipient\":\"no at sign\"}", "recipient");
        HttpResponse<String> several = post("{\"target\":\"example.test\",\"port\":0,\"mode\":\"SOMETIMES\"}", "application/json");
        assertEquals(400, several.statusCode(), several.body());
        assertEquals(List.of("port", "mode"), JSON.readTree(several.body()).get("errors").findValuesAsText("field"),
                "every bad field named at once");

        String d = domain("no-starttls", "NONE");
        for (int i = 0; i < 5; i++) {
            assertEquals(200, post("{\"target\":\"" + d + "\"}", "application/json").statusCode());
        }
        HttpResponse<String> limited = post("{\"target\":\"" + d + "\"}", "application/json");
        assertEquals(429, limited.statusCode(), limited.body());
        assertEquals("application/problem+json", limited.headers().firstValue("Content-Type").orElse(""));
        int wait = Integer.parseInt(limited.headers().firstValue("Retry-After").orElseThrow());
        assertTrue(wait >= 1 && wait <= 61, "Retry-After " + wait);
        assertTrue(JSON.readTree(limited.body()).get("detail").asText().contains(d));
        // another destination is not affected
        assertEquals(200, post("{\"target\":\"" + domain("no-starttls", "PREFERRED") + "\"}", "application/json").statusCode());
    }

    private static void assertField(String body, String field) throws Exception {
        HttpResponse<String> r = post(body, "application/json");
        assertEquals(400, r.statusCode(), body + " -> " + r.body());
        JsonNode p = JSON.readTree(r.body());
        assertEquals(field, p.at("/errors/0/field").asText(), r.body());
    }

    // ---- helpers

    private static ScriptedSmtpPeer own(ScriptedSmtpPeer p) {
        OWN.add(p);
        return p;
    }

    private static JsonNode check(String body) throws Exception {
        HttpResponse<String> r = post(body, "application/json");
        assertEquals(200, r.statusCode(), body + " -> " + r.body());
        return JSON.readTree(r.body());
    }

    private static HttpResponse<String> post(String body, String accept) throws Exception {
        return api().https().send(request(body, accept), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpRequest request(String body, String accept) throws Exception {
        return HttpRequest.newBuilder(URI.create("https://localhost:" + api().port(8083) + "/api/v1/tls-check"))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + api().secrets().adminToken())
                .header("Content-Type", "application/json").header("Accept", accept)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static JsonNode verdict(JsonNode verdicts, String mode) {
        for (JsonNode v : verdicts) {
            if (v.get("mode").asText().equals(mode)) {
                return v;
            }
        }
        throw new AssertionError("no verdict for " + mode + " in " + verdicts);
    }

    /** A private key as OpenSSL reads it: PKCS#8 PEM. */
    private static String pkcs8(java.security.PrivateKey key) {
        try {
            return TestPki.pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null));
        } catch (org.bouncycastle.util.io.pem.PemGenerationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
