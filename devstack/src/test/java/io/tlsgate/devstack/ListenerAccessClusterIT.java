package io.tlsgate.devstack;

import static io.tlsgate.devstack.ListenerCluster.HELLO;
import static io.tlsgate.devstack.ListenerCluster.HELO;
import static io.tlsgate.devstack.ListenerCluster.QUEUED;
import static io.tlsgate.devstack.ListenerCluster.QUIT;
import static io.tlsgate.devstack.ListenerCluster.dialogue;
import static io.tlsgate.devstack.ListenerCluster.icidLines;
import static io.tlsgate.devstack.ListenerCluster.icidOf;
import static io.tlsgate.devstack.ListenerCluster.mailRcptData;
import static io.tlsgate.devstack.ListenerCluster.openConnectionsOnceNone;
import static io.tlsgate.devstack.ListenerCluster.smtp;
import static io.tlsgate.devstack.ListenerCluster.tiny;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.SmtpDialogue;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Who may talk to listener-service in the {@link ListenerCluster}, and for how long: the host
 * access table, the limits of a mail flow policy and of a listener, and a client that never
 * reads its replies.
 */
@ExtendWith(ListenerCluster.Shared.class)
class ListenerAccessClusterIT {

    /** The host access table: REJECT, TCPREFUSE, RELAY, forward-confirmed reverse DNS. */
    @Test
    void hostAccessTable() throws Exception {
        long rejected = icidOf(dialogue("127.0.3.7", """
                S: 554 5.7.1 mx.tlsgate.test Access denied
                C: EHLO client.test
                S: 503 5.5.1 Error: access denied; only QUIT
                C: MAIL FROM:<a@origin.test>
                S: 503 5.5.1 Error: access denied; only QUIT
                """ + QUIT));
        assertTrue(icidLines(rejected).contains("ICID " + rejected + " REJECT SG BLOCKLIST match 127.0.3.7"));

        try (SmtpDialogue d = SmtpDialogue.connect("127.0.3.8", "127.0.0.1", smtp())) {
            d.expectClosed();
        }

        dialogue("127.0.3.6", HELLO + """
                C: HELO relay.client.test
                S: 250 mx.tlsgate.test
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                C: RCPT TO:<anyone@elsewhere.test>
                S: 250 2.1.5 Ok
                """ + QUIT);

        long verified = icidOf(dialogue("127.0.3.10", HELLO + QUIT));
        List<String> v = icidLines(verified);
        assertTrue(v.contains("New SMTP ICID " + verified + " interface inbound (127.0.0.1) address 127.0.3.10 reverse dns host "
                + "mx1.partner.test verified yes"), v.toString());
        assertTrue(v.contains("ICID " + verified + " ACCEPT SG PARTNERS match .partner.test"), v.toString());
        long spoofed = icidOf(dialogue("127.0.3.11", HELLO + QUIT));
        List<String> s = icidLines(spoofed);
        assertTrue(s.contains("New SMTP ICID " + spoofed + " interface inbound (127.0.0.1) address 127.0.3.11 reverse dns host "
                + "mx2.partner.test verified no"), s.toString());
        assertTrue(s.contains("ICID " + spoofed + " ACCEPT SG ALL match ALL"), "an unverified name matches no .domain entry: " + s);
    }

    /** Limits of the flow policy and the listener, line length, errors, idle and session time. */
    @Test
    void limits() throws Exception {
        dialogue("127.0.3.9", HELLO + HELO + """
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                C: RCPT TO:<one@accepted.test>
                S: 250 2.1.5 Ok
                C: RCPT TO:<two@accepted.test>
                S: 250 2.1.5 Ok
                C: RCPT TO:<three@accepted.test>
                S: 452 4.5.3 Error: too many recipients
                C: DATA
                S: 354 *
                C: X-Test: limits 1\\r\\n\\r\\n.
                """ + QUEUED + mailRcptData("a@origin.test", "one@accepted.test") + """
                C: X-Test: limits 2\\r\\n\\r\\n.
                """ + QUEUED + """
                C: MAIL FROM:<a@origin.test>
                S: 421 4.7.0 mx.tlsgate.test Error: too many messages in this session
                CLOSED
                """);

        // 512 + 512 octets per command line; a longer one is refused without being kept.
        try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp())) {
            d.run(HELLO);
            d.send("NOOP " + "x".repeat(1017) + "\r\n").expect("250 2.0.0 Ok");
            d.send("NOOP " + "x".repeat(1024 * 1024) + "\r\nNOOP\r\n");
            d.run("""
                    S: 500 5.5.2 Error: line too long
                    S: 250 2.0.0 Ok
                    """ + QUIT);
        }

        // Too many errors.
        try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp())) {
            d.run(HELLO);
            d.send("JUNK\r\n".repeat(20));
            for (int i = 0; i < 20; i++) {
                d.expect("500 5.5.2 Error: command not recognized");
            }
            d.run("S: 421 4.7.0 mx.tlsgate.test Error: too many errors\nCLOSED");
        }

        // The tiny listener: 1,024 octets per message, 2 connections per client, 3 in all.
        dialogue("127.0.0.1", tiny(), """
                S: 220 tiny.tlsgate.test ESMTP tlsgate
                C: HELO client.test
                S: 250 tiny.tlsgate.test
                """ + mailRcptData("a@origin.test", "big@accepted.test") + """
                C: X-Test: too big\\r\\n\\r\\n%s\\r\\n.
                S: 552 5.3.4 Error: message size exceeds fixed limit
                """.formatted("y".repeat(1100)) + QUIT + "CLOSED\n");
        try (SmtpDialogue a = SmtpDialogue.connect("127.0.3.20", "127.0.0.1", tiny());
                SmtpDialogue b = SmtpDialogue.connect("127.0.3.20", "127.0.0.1", tiny())) {
            a.expect("220 *");
            b.expect("220 *");
            try (SmtpDialogue c = SmtpDialogue.connect("127.0.3.20", "127.0.0.1", tiny())) {
                c.run("S: 421 4.7.0 tiny.tlsgate.test Error: too many connections from 127.0.3.20\nCLOSED");
            }
            try (SmtpDialogue c = SmtpDialogue.connect("127.0.3.21", "127.0.0.1", tiny())) {
                c.expect("220 *");
                try (SmtpDialogue over = SmtpDialogue.connect("127.0.3.22", "127.0.0.1", tiny())) {
                    over.run("S: 421 4.7.0 tiny.tlsgate.test Error: too many connections\nCLOSED");
                }
            }
        }

        // Idle for longer than the idle timeout (4 s here).
        try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp())) {
            d.run(HELLO + "S: 421 4.4.2 mx.tlsgate.test Error: timeout exceeded\nCLOSED");
        }
        // Busy but endless (slowloris): the session limit (25 s here) ends it.
        try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp())) {
            d.run(HELLO);
            long until = System.nanoTime() + Duration.ofSeconds(40).toNanos();
            String last = "";
            while (System.nanoTime() < until) {
                if (d.socket().getInputStream().available() == 0) {
                    d.send("NOOP\r\n");
                }
                last = d.reply().get(0);
                if (!last.startsWith("250")) {
                    break;
                }
                Thread.sleep(2000);
            }
            assertEquals("421 4.4.2 mx.tlsgate.test Error: session time limit exceeded", last);
            d.expectClosed();
        }
    }

    /**
     * A client that pipelines commands and never reads the replies: the listener stops reading
     * once 64 KiB of replies wait (the client's writes block, nothing piles up in memory), and
     * the connection is cut after the idle timeout plus the linger time, freeing its slot.
     */
    @Test
    void aClientThatNeverReadsIsCutOffWithoutBuffering() throws Exception {
        AtomicLong written = new AtomicLong();
        AtomicReference<Throwable> ended = new AtomicReference<>();
        java.net.Socket s = new java.net.Socket();
        s.setReceiveBufferSize(4096);
        s.bind(new java.net.InetSocketAddress("127.0.3.40", 0));
        s.connect(new java.net.InetSocketAddress("127.0.0.1", smtp()), 5000);
        byte[] noops = "NOOP\r\n".repeat(10_000).getBytes(StandardCharsets.US_ASCII);
        long limit = 200L * 1024 * 1024;
        Thread writer = new Thread(() -> {
            try {
                while (written.get() < limit) {
                    s.getOutputStream().write(noops);
                    written.addAndGet(noops.length);
                }
            } catch (Throwable e) {
                ended.set(e);
            }
        });
        long started = System.nanoTime();
        writer.start();
        writer.join(60_000);
        long seconds = Duration.ofNanos(System.nanoTime() - started).toSeconds();
        s.close();
        System.out.printf("never-reading client: wrote %d KB, cut off after %d s (%s)%n", written.get() / 1024, seconds, ended.get());
        assertTrue(written.get() < 32L * 1024 * 1024, "the listener stopped reading: only " + written.get() / 1024 + " KB went in");
        assertNotNull(ended.get(), "the connection was cut off");
        assertTrue(seconds < 45, "within the idle timeout (4 s) plus the linger time (10 s), not the session limit: " + seconds);
        assertEquals(0, openConnectionsOnceNone(Duration.ofSeconds(20)), "its connection slot is free again");
    }
}
