package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.testkit.HostileSmtpPeer;
import io.tlsgate.testkit.TestPki;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import io.tlsgate.platform.tls.PeerTrust;

/**
 * Several messages on one connection: TLS decided once, RSET between transactions, each
 * message with its own result, and what a connection that breaks half-way leaves: the
 * results it got, and the rest not sent.
 */
class ConnectionReuseTest {

    private static final io.vertx.core.Vertx VERTX = io.vertx.core.Vertx.vertx();

    @AfterAll
    static void closeVertx() {
        VERTX.close();
    }

    /** A server offering STARTTLS that answers every command, RSET included; {@code breakAfter} messages, then it hangs up. */
    private static HostileSmtpPeer.Behaviour server(int breakAfter, String refuseRcpt) {
        return c -> {
            c.send("220 peer.test ESMTP\r\n");
            int messages = 0;
            for (String l = c.readLine(); l != null; l = c.readLine()) {
                String cmd = l.length() >= 4 ? l.substring(0, 4).toUpperCase(java.util.Locale.ROOT) : l;
                switch (cmd) {
                    case "EHLO" -> c.send("250-peer.test\r\n250-PIPELINING\r\n" + (c.tls() ? "" : "250-STARTTLS\r\n")
                            + "250 8BITMIME\r\n");
                    case "STAR" -> {
                        c.send("220 2.0.0 Ready\r\n");
                        c.startTls();
                    }
                    case "MAIL", "RSET" -> c.send("250 2.0.0 Ok\r\n");
                    case "RCPT" -> c.send(l.contains(refuseRcpt) ? "550 5.1.1 No such user\r\n" : "250 2.1.5 Ok\r\n");
                    case "DATA" -> {
                        c.send("354 go ahead\r\n");
                        if (c.readContent() == null) {
                            return;
                        }
                        if (++messages == breakAfter) {
                            return; // hangs up before the reply to the end of data
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
        };
    }

    private static SmtpDeliveryAttempt.Message message(long mid, String... rcpts) {
        return new SmtpDeliveryAttempt.Message(mid, IntStream.range(0, rcpts.length).boxed().toList(), "a@example.com",
                List.of(rcpts), ("Subject: " + mid + "\r\n\r\nbody " + mid + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static SSLContext tls() {
        TestPki.Issued root = TestPki.selfSignedCa("Reuse Root", Duration.ofDays(2));
        KeyPair keys = TestPki.ecKeys();
        return TestPki.serverContext(keys, null, TestPki.issue(root, keys.getPublic(),
                TestPki.Spec.server("mx.peer.test", "mx.peer.test")), root.certificate());
    }

    private static SmtpDeliveryAttempt.Target target(HostileSmtpPeer peer) {
        return new SmtpDeliveryAttempt.Target("127.0.0.1", peer.port(), "mx.peer.test", "peer.test", List.of("mx.peer.test"),
                null, OutboundTlsMode.REQUIRED, PeerTrust.NONE, "gateway.example", null);
    }

    @Test
    void severalMessagesGoOverOneTlsConnectionWithRsetBetween() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(tls(), server(0, "gone@"))) {
            SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt(VERTX, 1).run(target(peer),
                    List.of(message(11, "a@peer.test"), message(12, "gone@peer.test"), message(13, "b@peer.test", "gone@peer.test")));
            assertTrue(r.encrypted(), r.toString());
            assertNull(r.error());
            assertEquals(List.of(11L, 12L, 13L), r.transactions().stream().map(SmtpDeliveryAttempt.Transaction::mid).toList());
            assertTrue(r.transaction(11).orElseThrow().delivered());
            assertNull(r.transaction(12).orElseThrow().dataReply(), "no accepted recipient: no DATA");
            assertTrue(r.transaction(13).orElseThrow().delivered());
            assertTrue(r.transaction(13).orElseThrow().rcptReplies().get(1).startsWith("550"));
            assertEquals(1, peer.connections().size(), "one connection");
            List<String> t = peer.transcript();
            assertEquals(1, t.stream().filter(l -> l.equals("-- TLS --")).count(), "one handshake");
            assertEquals(2, t.stream().filter(l -> l.equals("C: RSET")).count(), "RSET between the three");
            // 12's DATA (pipelined with its refused RCPT) got 354: ended empty, at once.
            assertEquals(List.of("C: <content 24 octets>", "C: <content 0 octets>", "C: <content 24 octets>"),
                    t.stream().filter(l -> l.startsWith("C: <content")).toList(), t.toString());
            assertEquals(3, t.stream().filter(l -> l.equals("C: .")).count(), t.toString());
        }
    }

    @Test
    void aRefusedRsetInAPipelinedGroupEndsTheConnectionBeforeAnyContent() throws Exception {
        HostileSmtpPeer.Behaviour refusesRset = c -> {
            c.send("220 peer.test ESMTP\r\n");
            for (String l = c.readLine(); l != null; l = c.readLine()) {
                switch (l.length() >= 4 ? l.substring(0, 4) : l) {
                    case "EHLO" -> c.send("250-peer.test\r\n250 PIPELINING\r\n");
                    case "RSET" -> c.send("500 5.5.1 not now\r\n");
                    case "MAIL", "RCPT" -> c.send("250 2.0.0 Ok\r\n");
                    case "DATA" -> {
                        c.send("354 go ahead\r\n");
                        if (c.readContent() == null) {
                            return;
                        }
                        c.send("250 2.0.0 Ok: queued\r\n");
                    }
                    default -> c.send("221 2.0.0 Bye\r\n");
                }
            }
        };
        try (HostileSmtpPeer peer = new HostileSmtpPeer(null, refusesRset)) {
            SmtpDeliveryAttempt.Target plain = new SmtpDeliveryAttempt.Target("127.0.0.1", peer.port(), "mx.peer.test",
                    "peer.test", List.of("mx.peer.test"), null, OutboundTlsMode.NONE, PeerTrust.NONE, "gateway.example", null);
            SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt(VERTX, 1).run(plain,
                    List.of(message(21, "a@peer.test"), message(22, "b@peer.test"), message(23, "c@peer.test")));
            // 21 went; 22's group (RSET, MAIL, RCPT, DATA) got 500 to RSET and 354 to DATA:
            // the connection is closed in the middle of DATA, so the server discards 22, and
            // 22 and 23 are left to another connection.
            assertEquals(List.of(21L), r.transactions().stream().map(SmtpDeliveryAttempt.Transaction::mid).toList(),
                    r.toString());
            assertTrue(r.transaction(21).orElseThrow().delivered());
            List<String> t = peer.transcript();
            assertEquals(List.of("C: <content 24 octets>", "C: <content 0 octets>"),
                    t.stream().filter(l -> l.startsWith("C: <content")).toList(), t.toString());
            assertEquals(1, t.stream().filter(l -> l.equals("C: .")).count(), t.toString());
        }
    }

    @Test
    void anIdleConnectionCarriesTheNextMessagesAndSaysQuitWhenIdleTooLong() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(tls(), server(0, "-"))) {
            SmtpDeliveryAttempt.Pool pool = new SmtpDeliveryAttempt.Pool(Duration.ofMillis(1500), 8);
            SmtpDeliveryAttempt.Result first = new SmtpDeliveryAttempt(VERTX, 41, SmtpDeliveryAttempt.Timeouts.RFC_5321, pool, 50)
                    .run(target(peer), List.of(message(41, "a@peer.test")));
            assertEquals(1, pool.size(), "kept for the next messages");
            SmtpDeliveryAttempt.Result second = new SmtpDeliveryAttempt(VERTX, 42, SmtpDeliveryAttempt.Timeouts.RFC_5321, pool, 50)
                    .run(target(peer), List.of(message(42, "b@peer.test"), message(43, "c@peer.test")));
            assertTrue(first.delivered() && !first.reused() && first.encrypted(), first.toString());
            assertTrue(second.reused() && second.encrypted(), second.toString());
            assertEquals(41, second.dcid(), "the connection's DCID");
            assertTrue(second.transaction(42).orElseThrow().delivered() && second.transaction(43).orElseThrow().delivered());
            assertTrue(second.log().stream().noneMatch(l -> l.startsWith("New SMTP")), "no new connection: " + second.log());
            assertEquals(1, peer.connections().size(), "one connection, one handshake");
            assertEquals(3, peer.transcript().stream().filter(l -> l.equals("C: .")).count());
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!peer.transcript().contains("C: QUIT") && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(peer.transcript().contains("C: QUIT"), "QUIT after the idle time: " + peer.transcript());
            assertEquals(0, pool.size());
        }
    }

    @Test
    void aConnectionCarriesNoMoreThanTheDestinationsMessagesPerConnectionOverAllItsUses() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(tls(), server(0, "-"))) {
            SmtpDeliveryAttempt.Pool pool = new SmtpDeliveryAttempt.Pool(Duration.ofSeconds(30), 8);
            SmtpDeliveryAttempt.Result a = new SmtpDeliveryAttempt(VERTX, 61, SmtpDeliveryAttempt.Timeouts.RFC_5321, pool, 2)
                    .run(target(peer), List.of(message(61, "a@peer.test")));
            SmtpDeliveryAttempt.Result b = new SmtpDeliveryAttempt(VERTX, 62, SmtpDeliveryAttempt.Timeouts.RFC_5321, pool, 2)
                    .run(target(peer), List.of(message(62, "b@peer.test")));
            assertEquals(0, pool.size(), "two messages carried: not kept");
            SmtpDeliveryAttempt.Result c = new SmtpDeliveryAttempt(VERTX, 63, SmtpDeliveryAttempt.Timeouts.RFC_5321, pool, 2)
                    .run(target(peer), List.of(message(63, "c@peer.test"), message(64, "d@peer.test")));
            assertTrue(!a.reused() && b.reused() && !c.reused(), List.of(a, b, c).toString());
            assertEquals(0, pool.size(), "two messages carried: not kept");
            assertEquals(2, peer.connections().size());
            assertTrue(peer.connections().get(0).transcript().contains("C: QUIT"), "the full connection said QUIT");
        }
    }

    @Test
    void anIdleConnectionTheServerClosedIsNotUsed() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(tls(), server(0, "-"))) {
            SmtpDeliveryAttempt.Pool pool = new SmtpDeliveryAttempt.Pool(Duration.ofSeconds(30), 8);
            assertTrue(new SmtpDeliveryAttempt(VERTX, 51, SmtpDeliveryAttempt.Timeouts.RFC_5321, pool, 50)
                    .run(target(peer), List.of(message(51, "a@peer.test"))).delivered());
            // The server goes away while the connection is idle: the next messages get a new one.
            peer.connections().get(0).close();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (pool.size() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            SmtpDeliveryAttempt.Result next = new SmtpDeliveryAttempt(VERTX, 52, SmtpDeliveryAttempt.Timeouts.RFC_5321, pool, 50)
                    .run(target(peer), List.of(message(52, "b@peer.test")));
            assertTrue(next.delivered() && !next.reused(), next.toString());
            assertEquals(2, peer.connections().size());
        }
    }

    @Test
    void aConnectionThatBreaksHalfWayKeepsTheResultsItGot() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(tls(), server(2, "-"))) {
            SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt(VERTX, 2).run(target(peer),
                    List.of(message(21, "a@peer.test"), message(22, "b@peer.test"), message(23, "c@peer.test")));
            assertEquals(1, r.transactions().size(), "only the first got its reply: " + r);
            assertTrue(r.transaction(21).orElseThrow().delivered());
            assertTrue(r.error() != null && r.error().contains("closed"), r.error());
            assertTrue(r.transaction(22).isEmpty() && r.transaction(23).isEmpty(), "left for another connection");
        }
    }

    @Test
    void aConnectionThatBreaksBeforeAnyResultFailsTheAttempt() throws Exception {
        try (HostileSmtpPeer peer = new HostileSmtpPeer(tls(), server(1, "-"))) {
            IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                    () -> new SmtpDeliveryAttempt(VERTX, 3).run(target(peer), List.of(message(31, "a@peer.test"),
                            message(32, "b@peer.test"))));
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
        }
    }
}
