package io.tlsgate.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The hostile SMTP server of {@link HostilePeerBench} on 127.0.0.1: a thread per connection,
 * what it does set by {@link #variant}. Its own rather than testkit's {@code HostileSmtpPeer},
 * which keeps every line in a transcript (an endless stream would grow it).
 *
 * <p>Per connection it greets, reads EHLO and then answers it with
 * <ul>
 *   <li>A: {@code 250-} continuation lines of 512 octets (RFC 5321's longest line), as fast as
 *       the socket takes them (the client's 32 KiB reply cap comes first, at line 64);</li>
 *   <li>B: {@code 250-} and then one endless line without LF (the 2,048-octet line cap);</li>
 *   <li>C: one short {@code 250-} line every 200 ms, for ever (the 100-line cap, after 20 s).</li>
 * </ul>
 * Between variants ({@link Variant#IDLE}) it answers {@code 421} and closes.
 */
final class HostilePeer implements AutoCloseable {

    static final int LINE = 512;
    static final int TRICKLE_MS = 200;

    enum Variant {
        IDLE("421 and close (between variants)", 0),
        A("250- lines of 512 octets, as fast as possible", 32 * 1024 + 2048),
        B("250- then one endless line without LF", 2048),
        C("one short 250- line every 200 ms", 100 * 40);

        final String what;
        /** What the client should take in before its cap cuts the reply (octets, upper bound). */
        final long cap;

        Variant(String what, long cap) {
            this.what = what;
            this.cap = cap;
        }
    }

    /** One finished connection as the server saw it. */
    record Conn(int phase, Variant variant, long bytes, long millis, String end) {}

    volatile Variant variant = Variant.IDLE;
    /** Which variant run (1, 2, ...) new connections belong to; 0 between runs. */
    volatile int phase;
    final AtomicLong accepted = new AtomicLong();
    final AtomicLong written = new AtomicLong();
    final AtomicInteger open = new AtomicInteger();
    final ConcurrentLinkedQueue<Conn> done = new ConcurrentLinkedQueue<>();
    private final ServerSocket server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
    private final ConcurrentLinkedQueue<Socket> sockets = new ConcurrentLinkedQueue<>();
    private final byte[] lines = new byte[16 * LINE];
    private final byte[] endless = new byte[8192];

    HostilePeer() throws IOException {
        for (int i = 0; i < 16; i++) {
            byte[] l = ("250-" + "A".repeat(LINE - 6) + "\r\n").getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(l, 0, lines, i * LINE, LINE);
        }
        Arrays.fill(endless, (byte) 'B');
        Thread t = new Thread(this::accept, "hostile-peer-accept");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return server.getLocalPort();
    }

    List<Conn> ended(int phase) {
        return done.stream().filter(c -> c.phase() == phase).toList();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                accepted.incrementAndGet();
                Variant v = variant;
                int in = phase;
                Thread t = new Thread(() -> serve(s, v, in), "hostile-peer-" + v);
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s, Variant v, int phase) {
        sockets.add(s);
        open.incrementAndGet();
        long start = System.nanoTime();
        long n = 0;
        String end = "bench closed it";
        try (s) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            if (v == Variant.IDLE) {
                out.write("421 4.3.2 hostile bench between variants\r\n".getBytes(StandardCharsets.US_ASCII));
                return;
            }
            byte[] greeting = "220 hostile.bench ESMTP\r\n".getBytes(StandardCharsets.US_ASCII);
            out.write(greeting);
            n += greeting.length;
            int c;
            while ((c = in.read()) != -1 && c != '\n') {
                // the EHLO line
            }
            switch (v) {
                case A -> {
                    while (true) {
                        out.write(lines);
                        n += lines.length;
                        written.addAndGet(lines.length);
                    }
                }
                case B -> {
                    out.write(new byte[] {'2', '5', '0', '-'});
                    n += 4;
                    while (true) {
                        out.write(endless);
                        n += endless.length;
                        written.addAndGet(endless.length);
                    }
                }
                case C -> {
                    for (int i = 1; ; i++) {
                        byte[] l = String.format("250-trickle line %06d\r\n", i).getBytes(StandardCharsets.US_ASCII);
                        out.write(l);
                        n += l.length;
                        written.addAndGet(l.length);
                        Thread.sleep(TRICKLE_MS);
                    }
                }
                default -> {
                }
            }
        } catch (IOException e) {
            end = "client went away: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            open.decrementAndGet();
            sockets.remove(s);
            if (v != Variant.IDLE) {
                done.add(new Conn(phase, v, n, (System.nanoTime() - start) / 1_000_000, end));
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
