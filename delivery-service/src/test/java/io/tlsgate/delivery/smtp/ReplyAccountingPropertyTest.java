package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.testkit.HostileSmtpPeer;
import io.tlsgate.testkit.TestPki;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import io.tlsgate.platform.tls.PeerTrust;

/**
 * A property of the SMTP client over random server behaviour: it reports a message delivered
 * only when the server's own transcript shows that it read the whole content up to the final
 * dot and answered that dot with a 2xx. The servers (real sockets, real TLS after STARTTLS)
 * answer each command with a random sequence: the right reply, a refusal, an extra reply
 * nobody asked for, no reply, a hang-up, plaintext behind the 220 to STARTTLS, a 2xx or 220
 * to DATA, a random reply to the final dot. Well-behaved runs must still deliver, so the
 * property cannot hold by the client never delivering.
 */
class ReplyAccountingPropertyTest {

    private static final Vertx VERTX = Vertx.vertx();
    private static final int RUNS = 200;
    private static final SmtpDeliveryAttempt.Timeouts QUICK = new SmtpDeliveryAttempt.Timeouts(Duration.ofSeconds(5),
            Duration.ofSeconds(3), Duration.ofSeconds(3), Duration.ofSeconds(10), null);
    private static final String[] REFUSALS = {"421 4.3.0 closing", "451 4.3.0 later", "452 4.2.2 full", "550 5.1.1 no",
        "554 5.7.1 refused"};
    private static final String[] NOT_A_354 = {"250 2.0.0 Ok", "220 2.0.0 ready", "235 2.7.0 huh", "451 4.3.0 later"};

    @AfterAll
    static void closeVertx() {
        VERTX.close();
    }

    /** What one random server did, from its own side. */
    private static final class Truth {
        final AtomicBoolean endAccepted = new AtomicBoolean();
        final AtomicBoolean misbehaved = new AtomicBoolean();
        /**
         * An extra reply behind a MAIL or RCPT reply while the client may have pipelined: it takes
         * the next command's place, and every later reply answers the command before its own.
         * SMTP replies carry no tag (RFC 2920 §3.2), so no client can tell; the reply to DATA
         * then arrives after the content went and may be taken as the end's.
         */
        final AtomicBoolean shifted = new AtomicBoolean();
    }

    @Test
    void deliveredOnlyWhenTheServerAcceptedTheEndOfData() throws Exception {
        TestPki.Issued root = TestPki.selfSignedCa("Property Root", Duration.ofDays(2));
        KeyPair keys = TestPki.ecKeys();
        SSLContext tls = TestPki.serverContext(keys, null, TestPki.issue(root, keys.getPublic(),
                TestPki.Spec.server("mx.peer.test", "mx.peer.test")), root.certificate());
        long base = Long.getLong("tlsgate.test.seed", System.nanoTime());
        AtomicInteger delivered = new AtomicInteger();
        AtomicInteger wellBehavedDelivered = new AtomicInteger();
        AtomicInteger wellBehaved = new AtomicInteger();
        for (int run = 0; run < RUNS; run++) {
            long seed = base + run;
            Random random = new Random(seed);
            Truth truth = new Truth();
            boolean pipelining = random.nextBoolean();
            boolean offerTls = random.nextBoolean();
            OutboundTlsMode mode = List.of(OutboundTlsMode.NONE, OutboundTlsMode.PREFERRED, OutboundTlsMode.REQUIRED)
                    .get(random.nextInt(3));
            int rcpts = 1 + random.nextInt(3);
            long peerSeed = random.nextLong();
            SmtpDeliveryAttempt.Result result = null;
            IOException failure = null;
            try (HostileSmtpPeer peer = new HostileSmtpPeer(tls,
                    c -> randomServer(c, new Random(peerSeed), pipelining, offerTls, truth))) {
                try {
                    result = new SmtpDeliveryAttempt(VERTX, run, QUICK).run(
                            new SmtpDeliveryAttempt.Target("127.0.0.1", peer.port(), "mx.peer.test", "peer.test",
                                    List.of("mx.peer.test"), null, mode, PeerTrust.NONE, "gateway.example", null),
                            new SmtpDeliveryAttempt.Message(run, IntStream.range(0, rcpts).boxed().toList(), "s@example.com",
                                    IntStream.range(0, rcpts).mapToObj(i -> "r" + i + "@peer.test").toList(),
                                    "Subject: p\r\n\r\n.dot\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII)));
                } catch (IOException e) {
                    failure = e;
                }
                // The server's side of the story is complete once the client has closed.
                peer.close();
                String story = "seed " + seed + " (-Dtlsgate.test.seed=" + base + ", run " + run + "), mode " + mode
                        + ", server " + peer.transcript() + ", client " + (result == null ? failure : result.log());
                assertTrue(peer.errors().isEmpty(), "the random server broke: " + peer.errors() + "; " + story);
                if (result != null && result.delivered()) {
                    delivered.incrementAndGet();
                    assertTrue(truth.endAccepted.get() || truth.shifted.get(),
                            "delivered without the server accepting the end of data: " + story);
                }
                if (!truth.misbehaved.get()) {
                    wellBehaved.incrementAndGet();
                    if (truth.endAccepted.get()) {
                        wellBehavedDelivered.incrementAndGet();
                        assertTrue(result != null && result.delivered(), "a well-behaved accepting server: " + story);
                    }
                }
            }
        }
        assertTrue(delivered.get() > RUNS / 20, "so few deliveries that the property says little: " + delivered);
        assertTrue(wellBehavedDelivered.get() > 0, "no well-behaved delivery among " + wellBehaved);
    }

    /** One connection of a server that answers each command with a random sequence. */
    private static void randomServer(HostileSmtpPeer.Conn c, Random r, boolean pipelining, boolean offerTls, Truth truth)
            throws IOException {
        if (!replied(c, r, "220 peer.test ESMTP", truth)) {
            return;
        }
        String l;
        boolean senderAccepted = false;
        boolean recipientAccepted = false;
        while ((l = c.readLine()) != null) {
            String cmd = l.length() >= 4 ? l.substring(0, 4).toUpperCase(Locale.ROOT) : l;
            switch (cmd) {
                case "EHLO" -> {
                    String ehlo = "250-peer.test\r\n" + (pipelining ? "250-PIPELINING\r\n" : "")
                            + (offerTls && !c.tls() ? "250-STARTTLS\r\n" : "") + "250 8BITMIME";
                    if (!replied(c, r, ehlo, truth)) {
                        return;
                    }
                }
                case "STAR" -> {
                    if (r.nextInt(5) == 0) {
                        if (!replied(c, r, "454 4.7.0 TLS not available", truth)) {
                            return;
                        }
                        continue;
                    }
                    String extra = r.nextInt(3) == 0 ? "250 2.0.0 injected\r\n" : "";
                    if (!extra.isEmpty()) {
                        truth.misbehaved.set(true);
                    }
                    c.send("220 2.0.0 Ready\r\n" + extra);
                    c.startTls();
                }
                case "MAIL" -> {
                    String reply = r.nextInt(10) == 0 ? pick(r, REFUSALS) : "250 2.1.0 Ok";
                    senderAccepted = reply.startsWith("2");
                    if (!repliedInGroup(c, r, reply, pipelining, truth)) {
                        return;
                    }
                }
                case "RCPT" -> {
                    String reply = r.nextInt(5) == 0 ? pick(r, REFUSALS) : "250 2.1.5 Ok";
                    recipientAccepted |= reply.startsWith("2");
                    if (!repliedInGroup(c, r, reply, pipelining, truth)) {
                        return;
                    }
                }
                case "DATA" -> {
                    if (r.nextInt(6) == 0) {
                        truth.misbehaved.set(true);
                        replied(c, r, pick(r, NOT_A_354), truth);
                        continue;
                    }
                    if (!replied(c, r, "354 go ahead", truth)) {
                        return;
                    }
                    if (c.readContent() == null) {
                        return;
                    }
                    String end = r.nextInt(4) == 0 ? pick(r, REFUSALS) : "250 2.0.0 Ok: queued";
                    Sent sent = reply(c, r, end, truth);
                    // Whatever followed it, the first reply the dot got is the server's answer.
                    // A 354 with no sender or recipient accepted is allowed (RFC 5321 §3.3 says MAY
                    // refuse); the client then ends it empty (RFC 2920 §3.1): that is no delivery.
                    truth.endAccepted.set(end.startsWith("2") && (sent == Sent.RIGHT || sent == Sent.RIGHT_AND_EXTRA)
                            && senderAccepted && recipientAccepted);
                    if (sent == Sent.HUNG_UP) {
                        return;
                    }
                }
                case "QUIT" -> {
                    c.send("221 2.0.0 Bye\r\n");
                    return;
                }
                default -> {
                    if (!replied(c, r, "500 5.5.2 what", truth)) {
                        return;
                    }
                }
            }
        }
    }

    private enum Sent { RIGHT, RIGHT_AND_EXTRA, NOTHING, HUNG_UP }

    /**
     * Sends the right reply, or with small odds nothing (the client must time out, not
     * guess), a hang-up, or the reply with an unsolicited one behind it in the same segment.
     */
    private static Sent reply(HostileSmtpPeer.Conn c, Random r, String right, Truth truth) throws IOException {
        int dice = r.nextInt(200);
        if (dice < 1) {
            truth.misbehaved.set(true);
            return Sent.NOTHING;
        }
        if (dice < 7) {
            truth.misbehaved.set(true);
            return Sent.HUNG_UP;
        }
        if (dice < 27) {
            truth.misbehaved.set(true);
            c.send(right + "\r\n" + pick(r, new String[] {"250 2.0.0 extra", "354 go", "221 2.0.0 bye"}) + "\r\n");
            return Sent.RIGHT_AND_EXTRA;
        }
        c.send(right + "\r\n");
        return Sent.RIGHT;
    }

    /** {@link #reply}, false when the server hung up. */
    private static boolean replied(HostileSmtpPeer.Conn c, Random r, String right, Truth truth) throws IOException {
        return reply(c, r, right, truth) != Sent.HUNG_UP;
    }

    /** {@link #replied} to a command the client may have pipelined: an extra reply then shifts the rest. */
    private static boolean repliedInGroup(HostileSmtpPeer.Conn c, Random r, String right, boolean pipelining, Truth truth)
            throws IOException {
        Sent sent = reply(c, r, right, truth);
        if (pipelining && sent == Sent.RIGHT_AND_EXTRA) {
            truth.shifted.set(true);
        }
        return sent != Sent.HUNG_UP;
    }

    private static String pick(Random r, String[] from) {
        return from[r.nextInt(from.length)];
    }
}
