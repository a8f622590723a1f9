package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.platform.tls.PeerTrust;
import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.tls.TlsEngine;
import io.tlsgate.testkit.OutboundDecisionTable;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import io.tlsgate.testkit.TestPki;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The six outbound modes against ten scripted peers over real sockets and real TLS: the same
 * golden table as core's {@code OutboundTlsDecisionGoldenTest} (read from core's test
 * resources, so there is one table), now checked end to end: delivered or not, encrypted or
 * not, the alert, and the exact mail-log lines (protocol, cipher and details as patterns).
 */
class TlsModesOverSocketsTest {

    private static final io.vertx.core.Vertx VERTX = io.vertx.core.Vertx.vertx();

    @org.junit.jupiter.api.AfterAll
    static void closeVertx() {
        VERTX.close();
    }

    private static final AtomicLong DCID = new AtomicLong(1000);
    private static TestPki.Issued root;
    private static final Map<String, ScriptedSmtpPeer> PEERS = new LinkedHashMap<>();

    @BeforeAll
    static void peers() throws Exception {
        root = TestPki.selfSignedCa("Peers Root", Duration.ofDays(30));
        Instant now = Instant.now();
        SSLContext valid = context(issued(TestPki.Spec.server("mx.peer.test", "mx.peer.test", "peer.test")));
        SSLContext selfSigned = context(selfSigned());
        SSLContext expired = context(issued(TestPki.Spec.server("mx.peer.test", "mx.peer.test", "peer.test")
                .validity(now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)))));
        SSLContext wrongHost = context(issued(TestPki.Spec.server("other.test", "other.test")));
        SSLContext mxOnly = context(issued(TestPki.Spec.server("mx.peer.test", "mx.peer.test")));
        SSLContext domainOnly = context(issued(TestPki.Spec.server("peer.test", "peer.test")));
        Map<String, Script> scripts = new LinkedHashMap<>();
        scripts.put("no-esmtp", Script.tls("no-esmtp", valid).noEsmtp());
        scripts.put("no-starttls", Script.tls("no-starttls", valid).noStarttls());
        scripts.put("starttls-454", Script.tls("starttls-454", valid)
                .starttlsReply("454 4.7.0 TLS not available due to temporary reason"));
        scripts.put("handshake-fails", Script.tls("handshake-fails", valid).failingHandshake());
        scripts.put("valid", Script.tls("valid", valid));
        scripts.put("self-signed", Script.tls("self-signed", selfSigned));
        scripts.put("expired", Script.tls("expired", expired));
        scripts.put("wrong-host", Script.tls("wrong-host", wrongHost));
        scripts.put("mx-not-domain", Script.tls("mx-not-domain", mxOnly));
        scripts.put("domain-not-mx", Script.tls("domain-not-mx", domainOnly));
        for (Map.Entry<String, Script> e : scripts.entrySet()) {
            PEERS.put(e.getKey(), new ScriptedSmtpPeer(e.getValue()));
        }
    }

    @AfterAll
    static void close() throws IOException {
        for (ScriptedSmtpPeer p : PEERS.values()) {
            p.close();
        }
    }

    static Stream<Arguments> rows() throws IOException {
        List<OutboundDecisionTable.Row> rows = OutboundDecisionTable.rows();
        assertEquals(60, rows.size());
        // Both TLS engines: BoringSSL refuses some certificates (the self-signed CA certificate's
        // key usage) in the handshake, where the connection is made again with the JDK's.
        return Stream.of(TlsEngine.OPENSSL, TlsEngine.JDK)
                .flatMap(engine -> rows.stream().map(r -> Arguments.of(r.mode(), r.peer(), engine, r)));
    }

    @ParameterizedTest(name = "{0} vs {1}, {2}")
    @MethodSource("rows")
    void deliversAsTheGoldenTableSays(String mode, String peerName, TlsEngine engine, OutboundDecisionTable.Row r)
            throws Exception {
        assertEquals(TlsEngine.OPENSSL, TlsEngine.preferred(), "BoringSSL loads on the test machine");
        ScriptedSmtpPeer peer = PEERS.get(peerName);
        int before = peer.received().size();
        long dcid = DCID.incrementAndGet();
        SmtpDeliveryAttempt.Result result;
        try {
            SmtpDeliveryAttempt.Timeouts timeouts = SmtpDeliveryAttempt.Timeouts.RFC_5321;
            result = new SmtpDeliveryAttempt(VERTX, dcid, timeouts, null, Integer.MAX_VALUE, SmtpDeliveryAttempt.Gate.OPEN,
                    new TlsClients(VERTX, engine, timeouts.connect(), timeouts.handshake(), false)).run(
                new SmtpDeliveryAttempt.Target("127.0.0.1", peer.port(), "mx.peer.test", "peer.test",
                        List.of("mx.peer.test"), null, OutboundTlsMode.valueOf(mode), PeerTrust.of(List.of(root.certificate())),
                        "gateway.example", null),
                new SmtpDeliveryAttempt.Message(7, List.of(0), "sender@example.com", List.of("user@peer.test"),
                        "Subject: test\r\n\r\n.leading dot\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException e) {
            List<String> c = peer.commands();
            throw new AssertionError("connection broke; the peer's last commands: " + c.subList(Math.max(0, c.size() - 10),
                    c.size()), e);
        }

        Action action = Action.valueOf(r.action());
        assertEquals(action, result.action(), "action; log " + result.log());
        assertEquals(r.encrypted(), result.encrypted(), "encrypted");
        assertEquals(r.alert(), result.alert(), "alert");
        assertEquals(r.result(), OutboundTlsDecision.result(OutboundTlsMode.valueOf(mode), result.action()).wire(), "TLS result");
        assertEquals(r.resultType(), result.resultType() == null ? "" : result.resultType().wire(), "failure type");
        assertEquals(r.verification(), result.verification().wire(), "verification");
        List<ScriptedSmtpPeer.Received> got = peer.received();
        if (action == Action.TEMPFAIL) {
            assertEquals(before, got.size(), "nothing may be sent");
        } else {
            assertTrue(result.delivered(), "delivered; log " + result.log());
            ScriptedSmtpPeer.Received last = got.get(got.size() - 1);
            assertEquals(result.encrypted(), last.tls(), "the peer saw the message over TLS or not");
            assertEquals("Subject: test\r\n\r\n.leading dot\r\nbody\r\n", new String(last.data(), StandardCharsets.US_ASCII));
        }
        if (r.helo()) {
            assertTrue(peer.commands().stream().anyMatch(c -> c.startsWith("HELO ")), "HELO fallback");
        }
        List<String> expected = r.logPatterns(dcid);
        List<String> tlsLines = result.log().stream().filter(l -> l.matches("DCID \\d+ (TLS|IP) .*")).toList();
        assertEquals(expected.size(), tlsLines.size(), "TLS log lines " + tlsLines + " vs " + r.logLines());
        for (int i = 0; i < expected.size(); i++) {
            assertTrue(tlsLines.get(i).matches(expected.get(i)), tlsLines.get(i) + " should match " + expected.get(i));
        }
        assertTrue(result.log().get(0).startsWith("New SMTP DCID " + dcid + " interface 127.0.0.1 address 127.0.0.1 port "));
    }

    private static TestPki.Issued issued(TestPki.Spec spec) {
        KeyPair kp = TestPki.ecKeys();
        return new TestPki.Issued(kp, TestPki.issue(root, kp.getPublic(), spec));
    }

    private static TestPki.Issued selfSigned() {
        TestPki.Issued ca = TestPki.selfSignedCa("mx.peer.test", Duration.ofDays(30));
        return ca;
    }

    private static SSLContext context(TestPki.Issued id) {
        X509Certificate[] chain = id.certificate().getIssuerX500Principal().equals(id.certificate().getSubjectX500Principal())
                ? new X509Certificate[] {id.certificate()} : new X509Certificate[] {id.certificate(), root.certificate()};
        return TestPki.serverContext(id.keys(), null, chain);
    }
}
