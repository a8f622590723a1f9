package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.testkit.HostileSmtpPeer;
import io.tlsgate.testkit.TestPki;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import io.tlsgate.platform.tls.PeerTrust;

/**
 * STARTTLS response injection (RFC 3207 §4.2, the CVE-2011-0411 class) and strict reply
 * accounting, against servers on loopback that misbehave byte for byte: nothing the server
 * sends in plaintext after its 220 survives into the TLS session, every command gets exactly
 * its own reply, and a message is delivered only on a 2xx to the end of its content.
 */
class StarttlsInjectionTest {

    private static final Vertx VERTX = Vertx.vertx();
    private static final String EHLO_TLS = "250-peer.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
    private static final String EHLO_AFTER_TLS = "250-peer.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
    /** Short waits: the tests' servers answer at once or never. */
    private static final SmtpDeliveryAttempt.Timeouts QUICK = new SmtpDeliveryAttempt.Timeouts(Duration.ofSeconds(5),
            Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofSeconds(5), null);
    private static SSLContext tls;

    @BeforeAll
    static void pki() {
        TestPki.Issued root = TestPki.selfSignedCa("Injection Root", Duration.ofDays(2));
        KeyPair keys = TestPki.ecKeys();
        tls = TestPki.serverContext(keys, null, TestPki.issue(root, keys.getPublic(),
                TestPki.Spec.server("mx.peer.test", "mx.peer.test")), root.certificate());
    }

    @AfterAll
    static void closeVertx() {
        VERTX.close();
    }

    /** What the injection tests put behind the 220 to STARTTLS, in the same segment. */
    enum Injected {
        ONE_REPLY("250 2.0.0 injected\r\n"),
        FULL_EHLO_REPLY(EHLO_AFTER_TLS),
        WHOLE_TRANSACTION(EHLO_AFTER_TLS + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n250 2.0.0 queued\r\n"),
        FAKE_250_TO_DATA("250 2.0.0 injected\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n"),
        PARTIAL_LINE("250 2.0.0 inj");

        final String bytes;

        Injected(String bytes) {
            this.bytes = bytes;
        }
    }

    @ParameterizedTest
    @EnumSource(Injected.class)
    void plaintextAfterThe220InTheSameSegmentDropsTheConnection(Injected injected) throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(tls, c -> {
            upToStarttls(c);
            c.send("220 2.0.0 Ready to start TLS\r\n" + injected.bytes);
            c.startTls();
            // The real reply to the post-TLS EHLO comes late, as in the report.
            c.sleep(500);
            serve(c);
        })) {
            SmtpDeliveryAttempt.Result r = attempt(peer, OutboundTlsMode.REQUIRED, 41);
            assertInjectionRefused(r, peer, 41);
            assertTrue(r.reason().startsWith("STARTTLS response injection: protocol violation: "), r.reason());
            assertTrue(r.alert(), "REQUIRED alerts on the failure");
        }
    }

    @Test
    void plaintextInASecondSegmentBeforeTheClientHelloFailsTheHandshake() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(tls, c -> {
            upToStarttls(c);
            c.send("220 2.0.0 Ready to start TLS\r\n");
            c.send(EHLO_AFTER_TLS);
            c.startTls();
            serve(c);
        })) {
            SmtpDeliveryAttempt.Result r = attempt(peer, OutboundTlsMode.PREFERRED, 42);
            assertEquals(Action.TEMPFAIL, r.action(), r.log().toString());
            assertFalse(r.delivered());
            // Either the client's reader saw the bytes before its handshake began, or its TLS layer did.
            assertTrue(r.reason().startsWith("STARTTLS response injection: ") || r.reason().startsWith("handshake failure: "),
                    r.reason());
            assertTrue(r.log().contains("DCID 42 TLS failed: " + r.reason()), r.log().toString());
            assertNoTransaction(peer);
        }
    }

    @Test
    void aCleanStarttlsStillDeliversEncrypted() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(tls, c -> {
            upToStarttls(c);
            c.send("220 2.0.0 Ready to start TLS\r\n");
            c.startTls();
            c.sleep(300);
            serve(c);
        })) {
            SmtpDeliveryAttempt.Result r = attempt(peer, OutboundTlsMode.REQUIRED, 44);
            assertTrue(r.delivered() && r.encrypted(), r.toString());
            assertTrue(peer.transcript().contains("C: ."), peer.transcript().toString());
        }
    }

    @Test
    void anUnsolicitedReplyInAPipelinedGroupFailsTheAttempt() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(null, c -> {
            greetAndEhlo(c);
            c.readLine(); // MAIL
            c.readLine(); // RCPT
            c.readLine(); // RCPT
            c.send("250 2.1.0 Ok\r\n250 2.0.0 unsolicited\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n");
            serve(c);
        })) {
            IOException e = assertThrows(IOException.class, () -> attempt(peer, OutboundTlsMode.NONE, 45, "a@peer.test",
                    "b@peer.test"));
            // DATA went with the group (RFC 2920): the extra reply either shifts a 250 onto DATA
            // (not a 354: a violation) or, when the 354 behind it is read first, is one too many.
            assertTrue(e.getMessage().contains("protocol violation: ") && (e.getMessage().contains("no reply owed")
                    || e.getMessage().contains("reply to DATA: 250")), e.getMessage());
            // DATA went with the group (RFC 2920); the content must not follow it.
            assertTrue(peer.transcript().stream().noneMatch(l -> l.equals("C: .")), peer.transcript().toString());
        }
    }

    @Test
    void anUnsolicitedReplyAfterTheGroupInALaterSegmentFailsTheAttempt() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(null, c -> {
            greetAndEhlo(c);
            c.readLine(); // MAIL
            c.readLine(); // RCPT
            c.send("250 2.1.0 Ok\r\n");
            c.sleep(200);
            c.send("250 2.1.5 Ok\r\n250 2.1.5 one more\r\n");
            serve(c);
        })) {
            IOException e = assertThrows(IOException.class, () -> attempt(peer, OutboundTlsMode.NONE, 46));
            assertTrue(e.getMessage().contains("protocol violation: "), e.getMessage());
            // DATA went with the group (RFC 2920); the content must not follow it.
            assertTrue(peer.transcript().stream().noneMatch(l -> l.equals("C: .")), peer.transcript().toString());
        }
    }

    @Test
    void oneReplyTooFewAfterAPipelinedGroupFailsTheAttempt() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(null, c -> {
            greetAndEhlo(c);
            c.readLine(); // MAIL
            c.readLine(); // RCPT
            c.readLine(); // RCPT
            c.send("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
            serve(c);
        })) {
            IOException e = assertThrows(IOException.class, () -> attempt(peer, OutboundTlsMode.NONE, 47, "a@peer.test",
                    "b@peer.test"));
            assertTrue(e.getMessage().startsWith("no reply within"), e.getMessage());
            // DATA went with the group (RFC 2920); the content must not follow it.
            assertTrue(peer.transcript().stream().noneMatch(l -> l.equals("C: .")), peer.transcript().toString());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"250 2.0.0 Ok\r\n", "220 2.0.0 Ok\r\n", "354 go\r\n250 2.0.0 queued\r\n"})
    void dataAnsweredWithAnythingButA354OrARefusalIsNeverDelivered(String reply) throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(null, c -> {
            greetAndEhlo(c);
            c.readLine(); // MAIL
            c.readLine(); // RCPT
            c.send("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
            c.readLine(); // DATA
            c.send(reply);
            serve(c);
        })) {
            IOException e = assertThrows(IOException.class, () -> attempt(peer, OutboundTlsMode.NONE, 48));
            assertTrue(e.getMessage().contains("protocol violation: "), e.getMessage());
            assertFalse(peer.transcript().contains("C: ."), "no content went: " + peer.transcript());
        }
    }

    @Test
    void dataRefusedIsReportedNotDelivered() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(null, c -> {
            greetAndEhlo(c);
            c.readLine();
            c.readLine();
            c.send("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
            c.readLine();
            c.send("451 4.3.0 try later\r\n");
            serve(c);
        })) {
            SmtpDeliveryAttempt.Result r = attempt(peer, OutboundTlsMode.NONE, 49);
            assertFalse(r.delivered());
            assertEquals("451 4.3.0 try later", r.dataReply());
        }
    }

    private static void assertInjectionRefused(SmtpDeliveryAttempt.Result r, HostileSmtpPeer peer, long dcid) {
        assertEquals(Action.TEMPFAIL, r.action(), r.log().toString());
        assertFalse(r.delivered());
        assertFalse(r.encrypted());
        assertEquals(io.tlsgate.core.tls.TlsResultType.VALIDATION_FAILURE, r.resultType());
        assertTrue(r.log().contains("DCID " + dcid + " TLS failed: " + r.reason()), r.log().toString());
        assertNoTransaction(peer);
    }

    /** The server never saw a transaction start, on any connection. */
    private static void assertNoTransaction(HostileSmtpPeer peer) {
        assertTrue(peer.transcript().stream().noneMatch(l -> l.startsWith("C: MAIL")), peer.transcript().toString());
        assertTrue(peer.errors().isEmpty(), peer.errors().toString());
    }

    static SmtpDeliveryAttempt.Result attempt(HostileSmtpPeer peer, OutboundTlsMode mode, long dcid, String... rcpts)
            throws IOException {
        List<String> to = rcpts.length == 0 ? List.of("user@peer.test") : List.of(rcpts);
        return new SmtpDeliveryAttempt(VERTX, dcid, QUICK).run(
                new SmtpDeliveryAttempt.Target("127.0.0.1", peer.port(), "mx.peer.test", "peer.test", List.of("mx.peer.test"),
                        null, mode, PeerTrust.NONE, "gateway.example", null),
                new SmtpDeliveryAttempt.Message(7, java.util.stream.IntStream.range(0, to.size()).boxed().toList(),
                        "sender@example.com", to, "Subject: t\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII)));
    }

    /** Greeting, EHLO offering STARTTLS, and the STARTTLS command read: the next move is the server's reply to it. */
    private static void upToStarttls(HostileSmtpPeer.Conn c) throws IOException {
        c.send("220 peer.test ESMTP\r\n");
        c.readLine();
        c.send(EHLO_TLS);
        c.readLine();
    }

    /** Greeting and an EHLO reply with PIPELINING and no STARTTLS: the client's transaction comes next. */
    private static void greetAndEhlo(HostileSmtpPeer.Conn c) throws IOException {
        c.send("220 peer.test ESMTP\r\n");
        c.readLine();
        c.send(EHLO_AFTER_TLS);
    }

    /** A well-behaved server from here on: one reply per command. */
    static void serve(HostileSmtpPeer.Conn c) throws IOException {
        String l;
        while ((l = c.readLine()) != null) {
            String cmd = l.length() >= 4 ? l.substring(0, 4).toUpperCase(java.util.Locale.ROOT) : l;
            switch (cmd) {
                case "EHLO" -> c.send(EHLO_AFTER_TLS);
                case "MAIL" -> c.send("250 2.1.0 Ok\r\n");
                case "RCPT" -> c.send("250 2.1.5 Ok\r\n");
                case "DATA" -> {
                    c.send("354 go ahead\r\n");
                    if (c.readContent() == null) {
                        return;
                    }
                    c.send("250 2.0.0 Ok: queued\r\n");
                }
                case "QUIT" -> {
                    c.send("221 2.0.0 Bye\r\n");
                    return;
                }
                default -> c.send("500 5.5.2 what\r\n");
            }
        }
    }
}
