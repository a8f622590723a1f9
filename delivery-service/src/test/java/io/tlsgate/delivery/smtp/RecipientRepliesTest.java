package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.tls.CipherNames;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import io.tlsgate.platform.tls.PeerTrust;

/** Per-recipient replies: accepted ones get the message, 4xx/5xx ones are reported, none: no DATA. */
class RecipientRepliesTest {

    private static final io.vertx.core.Vertx VERTX = io.vertx.core.Vertx.vertx();

    @org.junit.jupiter.api.AfterAll
    static void closeVertx() {
        VERTX.close();
    }

    private static SmtpDeliveryAttempt.Result send(ScriptedSmtpPeer peer, String... rcpts) throws Exception {
        return new SmtpDeliveryAttempt(VERTX, 7).run(new SmtpDeliveryAttempt.Target("127.0.0.1", peer.port(), "mx.peer.test",
                "peer.test", List.of("mx.peer.test"), null, OutboundTlsMode.PREFERRED, PeerTrust.NONE, "gateway.example", null),
                new SmtpDeliveryAttempt.Message(9, java.util.stream.IntStream.range(0, rcpts.length).boxed().toList(), "",
                        List.of(rcpts), "Subject: x\r\n\r\nhi\r\n".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void eachRecipientGetsItsOwnReply() throws Exception {
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("rcpts", null).noStarttls()
                .rcpt("full@peer.test", "452 4.2.2 Mailbox full").rcpt("gone@peer.test", "550 5.1.1 No such user"))) {
            SmtpDeliveryAttempt.Result r = send(peer, "ok@peer.test", "full@peer.test", "gone@peer.test");
            assertEquals(3, r.rcptReplies().size());
            assertTrue(r.rcptReplies().get(0).startsWith("250"));
            assertTrue(r.rcptReplies().get(1).startsWith("452"));
            assertTrue(r.rcptReplies().get(2).startsWith("550"));
            assertTrue(r.delivered());
            assertEquals(List.of("ok@peer.test"), peer.received().get(0).rcptTo());
            assertEquals("", peer.received().get(0).mailFrom(), "the null reverse-path");
        }
    }

    @Test
    void pipelinesMailAndRcptWhenOfferedAndNotOtherwise() throws Exception {
        try (ScriptedSmtpPeer offers = new ScriptedSmtpPeer(Script.tls("pipe", null).noStarttls()
                .rcpt("full@peer.test", "452 4.2.2 Mailbox full"));
                ScriptedSmtpPeer plain = new ScriptedSmtpPeer(Script.tls("nopipe", null).noStarttls().noPipelining()
                        .rcpt("full@peer.test", "452 4.2.2 Mailbox full"))) {
            for (ScriptedSmtpPeer peer : List.of(offers, plain)) {
                SmtpDeliveryAttempt.Result r = send(peer, "a@peer.test", "full@peer.test", "b@peer.test");
                assertEquals(3, r.rcptReplies().size());
                assertTrue(r.rcptReplies().get(1).startsWith("452"), "replies stay in order: " + r.rcptReplies());
                assertEquals(List.of("a@peer.test", "b@peer.test"), peer.received().get(0).rcptTo());
                assertTrue(r.log().contains("Message done DCID 7 MID 9 to RID [0, 2]"), r.log().toString());
            }
            assertEquals(1, offers.pipelinedTransactions(), "MAIL and the RCPTs in one write");
            assertEquals(0, plain.pipelinedTransactions(), "one command at a time without PIPELINING");
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"220 2.0.0 ready", "235 2.7.0 huh", "354 go on"})
    void onlyA250ToTheEndOfTheContentIsADelivery(String endReply) throws Exception {
        try (io.tlsgate.testkit.HostileSmtpPeer peer = new io.tlsgate.testkit.HostileSmtpPeer(null, c -> {
            c.send("220 peer.test ESMTP\r\n");
            c.readLine();
            c.send("250 peer.test\r\n");
            c.readLine();
            c.send("250 2.1.0 Ok\r\n");
            c.readLine();
            c.send("250 2.1.5 Ok\r\n");
            c.readLine();
            c.send("354 go ahead\r\n");
            c.readContent();
            c.send(endReply + "\r\n");
            c.readLine();
        })) {
            // The attempt fails as a broken session: no delivery, the message stays queued for a retry.
            ReplyReader.ProtocolViolation e = org.junit.jupiter.api.Assertions.assertThrows(ReplyReader.ProtocolViolation.class,
                    () -> new SmtpDeliveryAttempt(VERTX, 4).run(new SmtpDeliveryAttempt.Target("127.0.0.1", peer.port(),
                            "mx.peer.test", "peer.test", List.of("mx.peer.test"), null, OutboundTlsMode.NONE, PeerTrust.NONE,
                            "gateway.example", null), new SmtpDeliveryAttempt.Message(4, List.of(0), "a@example.com",
                            List.of("b@peer.test"), "Subject: x\r\n\r\nhi\r\n".getBytes(StandardCharsets.US_ASCII))));
            assertTrue(e.getMessage().contains("reply to the end of data: " + endReply), e.getMessage());
        }
    }

    @Test
    void aLargeMessageWithDotsArrivesByteForByte() throws Exception {
        StringBuilder b = new StringBuilder("Subject: dots\r\n\r\n");
        for (int i = 0; b.length() < 300_000; i++) {
            b.append(i % 3 == 0 ? "." : i % 3 == 1 ? ".. two dots " + i : "plain line " + i).append("\r\n");
        }
        b.append("last line without CRLF");
        String content = b.toString();
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("large", null).noStarttls())) {
            SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt(VERTX, 3).run(new SmtpDeliveryAttempt.Target("127.0.0.1",
                    peer.port(), "mx.peer.test", "peer.test", List.of("mx.peer.test"), null, OutboundTlsMode.NONE, PeerTrust.NONE,
                    "gateway.example", null), new SmtpDeliveryAttempt.Message(3, List.of(0), "a@example.com",
                    List.of("b@peer.test"), content.getBytes(StandardCharsets.US_ASCII)));
            assertTrue(r.delivered(), r.toString());
            // The peer undoes the dot-stuffing; the message gains the CRLF it lacked before the final dot.
            assertEquals(content + "\r\n", new String(peer.received().get(0).data(), StandardCharsets.US_ASCII));
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_AES_256_GCM_SHA384, TLS_AES_256_GCM_SHA384",
    })
    void cipherNamesAreLoggedInOpenSslSpelling(String java, String openSsl) {
        assertEquals(openSsl, CipherNames.openSsl(java));
    }

    @Test
    void presentsTheClientCertificateWhenOneIsGiven() throws Exception {
        io.tlsgate.testkit.TestPki.Issued root = io.tlsgate.testkit.TestPki.selfSignedCa("Client Test Root",
                java.time.Duration.ofDays(2));
        java.security.KeyPair serverKeys = io.tlsgate.testkit.TestPki.ecKeys();
        java.security.cert.X509Certificate server = io.tlsgate.testkit.TestPki.issue(root, serverKeys.getPublic(),
                io.tlsgate.testkit.TestPki.Spec.server("mx.peer.test", "mx.peer.test"));
        java.security.KeyPair clientKeys = io.tlsgate.testkit.TestPki.ecKeys();
        java.security.cert.X509Certificate client = io.tlsgate.testkit.TestPki.issue(root, clientKeys.getPublic(),
                io.tlsgate.testkit.TestPki.Spec.server("gateway.example", "gateway.example"));
        javax.net.ssl.SSLContext peerTls = io.tlsgate.testkit.TestPki.serverContext(serverKeys, root.certificate(), server,
                root.certificate());
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("client-cert", peerTls).requestClientCertificate())) {
            for (boolean withKey : List.of(true, false)) {
                SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt(VERTX, 4).run(new SmtpDeliveryAttempt.Target("127.0.0.1",
                        peer.port(), "mx.peer.test", "peer.test", List.of("mx.peer.test"), null, OutboundTlsMode.REQUIRED,
                        PeerTrust.NONE, "gateway.example", withKey ? io.tlsgate.testkit.TestPki.keyManagers(clientKeys, client, root.certificate()) : null),
                        new SmtpDeliveryAttempt.Message(4, List.of(0), "a@example.com", List.of("b@peer.test"),
                                "x\r\n".getBytes(StandardCharsets.US_ASCII)));
                assertTrue(r.delivered() && r.encrypted(), r.toString());
            }
            String subject = peer.received().get(0).clientSubject();
            assertTrue(subject != null && subject.startsWith("CN=gateway.example,"), "client certificate: " + subject);
            assertNull(peer.received().get(1).clientSubject(), "none without a key");
        }
    }

    @Test
    void noAcceptedRecipientMeansNoContent() throws Exception {
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("none", null).noStarttls()
                .rcpt("gone@peer.test", "550 5.1.1 No such user"))) {
            SmtpDeliveryAttempt.Result r = send(peer, "gone@peer.test");
            assertNull(r.dataReply());
            assertTrue(peer.received().isEmpty());
            // DATA went with the pipelined group (RFC 2920) and was refused: no content followed.
            assertTrue(peer.commands().contains("DATA"), peer.commands().toString());
        }
    }
}
