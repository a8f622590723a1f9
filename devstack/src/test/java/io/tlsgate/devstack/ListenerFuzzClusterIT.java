package io.tlsgate.devstack;

import static io.tlsgate.devstack.ListenerCluster.HELLO;
import static io.tlsgate.devstack.ListenerCluster.QUEUED;
import static io.tlsgate.devstack.ListenerCluster.QUIT;
import static io.tlsgate.devstack.ListenerCluster.api;
import static io.tlsgate.devstack.ListenerCluster.ehlo;
import static io.tlsgate.devstack.ListenerCluster.icidLines;
import static io.tlsgate.devstack.ListenerCluster.icidOf;
import static io.tlsgate.devstack.ListenerCluster.mailRcptData;
import static io.tlsgate.devstack.ListenerCluster.openConnectionsOnceNone;
import static io.tlsgate.devstack.ListenerCluster.sleep;
import static io.tlsgate.devstack.ListenerCluster.smtp;
import static io.tlsgate.devstack.ListenerCluster.stack;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.SmtpDialogue;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** listener-service in the {@link ListenerCluster} under a flood of malformed sessions. */
@ExtendWith(ListenerCluster.Shared.class)
class ListenerFuzzClusterIT {

    /**
     * 10,000 sessions of junk (binary, 1 MB lines, half-open TLS, early disconnects, resets,
     * command soup, cut DATA) from 16 clients at once, while a well-formed client sends a
     * message every half second: every one of its messages is accepted, and afterwards no
     * session is left behind.
     */
    @Test
    void fuzzedSessionsNeverStopTheListener() throws Exception {
        int sessions = Integer.getInteger("tlsgate.fuzz.sessions", 10_000);
        int clients = 16;
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean fuzzing = new java.util.concurrent.atomic.AtomicBoolean(true);
        java.util.concurrent.ConcurrentHashMap<Integer, Integer> kinds = new java.util.concurrent.ConcurrentHashMap<>();
        byte[] clientHello = clientHello();
        long pid = stack().service("listener-service").pid();
        long rssBefore = rssKb(pid);
        java.util.concurrent.atomic.AtomicLong rssPeak = new java.util.concurrent.atomic.AtomicLong(rssBefore);
        List<String> wellFormedFailures = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicInteger wellFormed = new java.util.concurrent.atomic.AtomicInteger();
        Thread good = new Thread(() -> {
            while (fuzzing.get()) {
                int n = wellFormed.incrementAndGet();
                SmtpDialogue d = null;
                try {
                    d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp());
                    d.run(HELLO + ehlo("good.client.test") + mailRcptData("good@origin.test", "good@accepted.test")
                            + "C: X-Test: well-formed %d\\r\\n\\r\\nbody\\r\\n.\n".formatted(n) + QUEUED + QUIT);
                } catch (Throwable e) {
                    String log;
                    try {
                        d.close();
                        log = icidLines(icidOf(d)) + "\ndelivery-service:\n" + stack().service("delivery-service").tail(30);
                    } catch (Throwable t) {
                        log = "(no log: " + t + ")";
                    }
                    wellFormedFailures.add(n + ": " + e.getMessage() + "\n" + log);
                } finally {
                    if (d != null) {
                        d.close();
                    }
                }
                rssPeak.accumulateAndGet(rssKb(pid), Math::max);
                sleep(500);
            }
        });
        long notQueuedBefore = api().mailLog("listener-service").stream().filter(l -> l.contains(" message not queued: ")).count();
        long started = System.nanoTime();
        good.start();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(clients);
        List<java.util.concurrent.Future<?>> work = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            String from = "127.0.4." + (c + 1);
            java.util.Random random = new java.util.Random(1000 + c);
            work.add(pool.submit(() -> {
                int i;
                while ((i = next.getAndIncrement()) < sessions) {
                    int kind = random.nextInt(8);
                    kinds.merge(kind, 1, Integer::sum);
                    try {
                        junkSession(from, kind, random, clientHello);
                    } catch (java.io.IOException expected) {
                        // the listener hung up on us: fine
                    }
                }
                return null;
            }));
        }
        for (var w : work) {
            w.get(15, java.util.concurrent.TimeUnit.MINUTES);
        }
        pool.shutdown();
        fuzzing.set(false);
        good.join(60_000);
        long seconds = Duration.ofNanos(System.nanoTime() - started).toSeconds();
        System.out.printf("fuzz: %d sessions in %d s (kinds %s); well-formed messages %d, failed %d; listener RSS %d MB before, "
                + "peak %d MB%n", sessions, seconds, kinds, wellFormed.get(), wellFormedFailures.size(), rssBefore / 1024,
                rssPeak.get() / 1024);
        assertTrue(stack().service("listener-service").isAlive(), "listener-service survived");
        assertTrue(wellFormedFailures.isEmpty(), "the well-formed client was always served: " + wellFormedFailures);
        assertTrue(wellFormed.get() >= 5, "the well-formed client ran during the fuzzing: " + wellFormed.get());
        // 1,200 clients hanging up mid-DATA abandon their Enqueue with an Abort chunk, not a stream
        // reset: resets would trip delivery-service's HTTP/2 rapid-reset guard (GOAWAY), failing
        // every message on the connection, well-formed ones included.
        List<String> notQueued = api().mailLog("listener-service").stream().filter(l -> l.contains(" message not queued: ")).toList();
        assertEquals(notQueuedBefore, notQueued.size(), "no message failed at delivery-service: " + notQueued);
        assertEquals(0, openConnectionsOnceNone(Duration.ofSeconds(30)), "every junk session ended; no connection slot leaked");
        assertTrue(rssPeak.get() < 1024 * 1024, "resident memory stayed bounded (peak " + rssPeak.get() / 1024 + " MB)");
    }

    private static void junkSession(String from, int kind, java.util.Random random, byte[] clientHello) throws java.io.IOException {
        try (java.net.Socket s = new java.net.Socket()) {
            s.bind(new java.net.InetSocketAddress(from, 0));
            s.connect(new java.net.InetSocketAddress("127.0.0.1", smtp()), 5000);
            s.setSoTimeout(10_000);
            var out = s.getOutputStream();
            var in = s.getInputStream();
            switch (kind) {
                case 0 -> { // binary junk
                    byte[] junk = new byte[1 + random.nextInt(8192)];
                    random.nextBytes(junk);
                    out.write(junk);
                }
                case 1 -> { // a 1 MB line (every other time only 64 KB), maybe with its end
                    byte[] line = new byte[random.nextBoolean() ? 1 << 20 : 1 << 16];
                    java.util.Arrays.fill(line, (byte) 'A');
                    out.write(line);
                    if (random.nextBoolean()) {
                        out.write("\r\nQUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                    }
                }
                case 2 -> { // half-open TLS: STARTTLS, then part of a ClientHello, then gone
                    readUntil(in, "220 ");
                    out.write("STARTTLS\r\n".getBytes(StandardCharsets.US_ASCII));
                    readUntil(in, "220 2.0.0");
                    out.write(clientHello, 0, 1 + random.nextInt(clientHello.length - 1));
                }
                case 3 -> { // early disconnect, before or after the greeting
                    if (random.nextBoolean()) {
                        readUntil(in, "220 ");
                    }
                }
                case 4 -> { // command soup, some lines LF-only, some with NULs and bad UTF-8
                    StringBuilder b = new StringBuilder();
                    String[] verbs = {"EHLO", "HELO", "MAIL FROM:", "RCPT TO:", "DATA", "RSET", "NOOP", "VRFY", "STARTTLS", "BDAT",
                        "AUTH", "\u0000", "MAIL", "RCPT", "QUIT "};
                    for (int i = 0, n = 1 + random.nextInt(40); i < n; i++) {
                        b.append(verbs[random.nextInt(verbs.length)]).append(random.nextBoolean() ? " <" : "")
                                .append(Long.toString(random.nextLong(), 36)).append(random.nextBoolean() ? "@x.test>" : "")
                                .append(random.nextInt(4) == 0 ? "\n" : "\r\n");
                    }
                    out.write(b.toString().getBytes(StandardCharsets.UTF_8));
                    out.write(new byte[] {(byte) 0xff, (byte) 0xfe, '\r', '\n'});
                }
                case 5 -> { // DATA cut off in the middle
                    out.write("EHLO cut.test\r\nMAIL FROM:<cut@origin.test>\r\nRCPT TO:<cut@accepted.test>\r\nDATA\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                    readUntil(in, "354 ");
                    out.write(("X-Test: cut\r\n\r\n" + "z".repeat(random.nextInt(20_000))).getBytes(StandardCharsets.US_ASCII));
                }
                case 6 -> { // a reset instead of a close
                    out.write("EHLO reset.test\r\n".getBytes(StandardCharsets.US_ASCII));
                    s.setSoLinger(true, 0);
                }
                default -> { // slow and small: a few bytes at a time
                    for (int i = 0; i < 5; i++) {
                        out.write(("NO").getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    }
                    out.write("OP\r\nQUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                    readUntil(in, "221 ");
                }
            }
            out.flush();
        }
    }

    /** Reads until a line starting with {@code prefix} (or the end). */
    private static void readUntil(java.io.InputStream in, String prefix) throws java.io.IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                if (line.toString().startsWith(prefix)) {
                    return;
                }
                line.setLength(0);
            } else {
                line.append((char) c);
            }
        }
    }

    /** The first flight of a real TLS client, to cut short. */
    private static byte[] clientHello() throws Exception {
        javax.net.ssl.SSLEngine e = SmtpDialogue.trustAll(null).createSSLEngine("127.0.0.1", smtp());
        e.setUseClientMode(true);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(e.getSession().getPacketBufferSize());
        e.beginHandshake();
        e.wrap(java.nio.ByteBuffer.allocate(0), out);
        out.flip();
        byte[] b = new byte[out.remaining()];
        out.get(b);
        return b;
    }

    private static long rssKb(long pid) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("VmRSS:")) {
                    return Long.parseLong(l.replaceAll("\\D", ""));
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
