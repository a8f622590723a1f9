package io.tlsgate.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.ConcurrentHistogram;

/**
 * SMTP load: {@code messages} messages over sessions of {@code perConnection} messages each,
 * {@code concurrency} sessions at a time, from a few Netty threads (TLS on BoringSSL, no session
 * resumption: every STARTTLS is a full handshake), so that the client is not what limits the
 * server. Pipelines MAIL, RCPT and DATA when the server offers PIPELINING. Modes: {@code plain},
 * {@code starttls}, {@code handshake} (greeting, EHLO, STARTTLS, handshake, EHLO, QUIT; no mail).
 * Prints one line: messages accepted (250 to the end of data) and failed, seconds, rate, and
 * the connection latency (connect to the reply to QUIT) percentiles.
 *
 * <p>Usage: {@code SmtpLoad host port messages concurrency perConnection plain|starttls|handshake
 * bodyBytes recipientDomain [threads]}
 */
public final class SmtpLoad {

    private final String host;
    private final int port;
    private final String mode;
    private final int perConnection;
    private final String rcptDomain;
    private final ByteBuf body;
    private final SslContext tls;
    private final Bootstrap bootstrap;
    private final AtomicInteger toAssign;
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private final ConcurrentHistogram latencyMicros = new ConcurrentHistogram(3_600_000_000L, 3);
    private final CountDownLatch done;
    private final AtomicInteger live = new AtomicInteger();
    /** The first reply or error of each kind that failed a session, with counts. */
    private final java.util.Map<String, AtomicLong> why = new java.util.concurrent.ConcurrentHashMap<>();

    private SmtpLoad(String host, int port, int messages, int concurrency, int perConnection, String mode, int bodyBytes,
            String rcptDomain, EventLoopGroup group) throws Exception {
        this.host = host;
        this.port = port;
        this.mode = mode;
        this.perConnection = perConnection;
        this.rcptDomain = rcptDomain;
        this.body = Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(body(bodyBytes)));
        this.tls = SslContextBuilder.forClient().sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                .trustManager(InsecureTrustManagerFactory.INSTANCE).build();
        this.toAssign = new AtomicInteger(messages);
        this.done = new CountDownLatch(1);
        this.bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true).option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 30_000);
    }

    /** The pipeline of one session: its handler exists before the connection does. */
    private ChannelInitializer<SocketChannel> pipeline(Session session) {
        return new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                // A server that stops answering for 60 s fails the session (the run never hangs).
                ch.pipeline().addLast(new io.netty.handler.timeout.ReadTimeoutHandler(60),
                        new LineBasedFrameDecoder(4096), new StringDecoder(StandardCharsets.ISO_8859_1), session);
            }
        };
    }

    private static byte[] body(int bytes) {
        StringBuilder b = new StringBuilder("From: load@bench.test\r\nSubject: mail-path bench\r\n\r\n");
        while (b.length() < bytes) {
            b.append("x".repeat(76)).append("\r\n");
        }
        b.append(".\r\n");
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** Starts another session if messages are left; counts down when the last one ends. */
    private void next() {
        int n = mode.equals("handshake") ? (toAssign.getAndDecrement() > 0 ? 1 : 0) : take();
        if (n <= 0) {
            if (live.get() == 0) {
                done.countDown();
            }
            return;
        }
        live.incrementAndGet();
        Session session = new Session(n, System.nanoTime());
        bootstrap.clone().handler(pipeline(session)).connect(host, port).addListener(f -> {
            if (!f.isSuccess()) {
                session.note("connect: " + f.cause());
                failed.addAndGet(mode.equals("handshake") ? 1 : n);
                ended(session.start);
            }
        });
    }

    private int take() {
        while (true) {
            int left = toAssign.get();
            if (left <= 0) {
                return 0;
            }
            int n = Math.min(perConnection, left);
            if (toAssign.compareAndSet(left, left - n)) {
                return n;
            }
        }
    }

    private void ended(long start) {
        latencyMicros.recordValue(Math.max(1, (System.nanoTime() - start) / 1000));
        connections.incrementAndGet();
        live.decrementAndGet();
        next();
    }

    private enum State { GREETING, EHLO, STARTTLS, HANDSHAKE, EHLO2, MAIL_GROUP, BODY, QUIT, DONE }

    /** One SMTP session's state machine. */
    private final class Session extends SimpleChannelInboundHandler<String> {
        private State state = State.GREETING;
        private Channel ch;
        private final int messages;
        private int sent;
        private final long start;
        private boolean pipelining;
        private int repliesOwed;
        private boolean groupOk;
        private final StringBuilder reply = new StringBuilder();

        Session(int messages, long start) {
            this.messages = messages;
            this.start = start;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ch = ctx.channel();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            if (line.length() >= 4 && line.charAt(3) == '-') {
                reply.append(line).append('\n');
                return;
            }
            reply.append(line);
            String r = reply.toString();
            reply.setLength(0);
            onReply(r);
        }

        private void send(String s) {
            ch.writeAndFlush(Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
        }

        private void onReply(String r) {
            switch (state) {
                case GREETING -> expect(r, "220", () -> {
                    state = State.EHLO;
                    send("EHLO load.bench.test\r\n");
                });
                case EHLO -> expect(r, "250", () -> {
                    if (mode.equals("plain")) {
                        pipelining = r.contains("PIPELINING");
                        nextMessage();
                    } else {
                        state = State.STARTTLS;
                        send("STARTTLS\r\n");
                    }
                });
                case STARTTLS -> expect(r, "220", () -> {
                    state = State.HANDSHAKE;
                    SslHandler h = tls.newHandler(ch.alloc());
                    ch.pipeline().addFirst(h);
                    h.handshakeFuture().addListener(f -> {
                        if (f.isSuccess()) {
                            state = State.EHLO2;
                            send("EHLO load.bench.test\r\n");
                        } else {
                            fail();
                        }
                    });
                });
                case EHLO2 -> expect(r, "250", () -> {
                    pipelining = r.contains("PIPELINING");
                    if (mode.equals("handshake")) {
                        accepted.incrementAndGet();
                        quit();
                    } else {
                        nextMessage();
                    }
                });
                case MAIL_GROUP -> {
                    repliesOwed--;
                    boolean last = repliesOwed == 0;
                    groupOk &= last ? r.startsWith("354") : r.startsWith("250");
                    if (!pipelining && !last && groupOk) {
                        send(repliesOwed == 2 ? "RCPT TO:<user" + sent + "@" + rcptDomain + ">\r\n" : "DATA\r\n");
                    }
                    if (last) {
                        if (!groupOk) {
                            note("MAIL/RCPT/DATA: " + r);
                            fail();
                            return;
                        }
                        state = State.BODY;
                        ch.writeAndFlush(body.retainedDuplicate());
                    } else if (!groupOk && pipelining) {
                        return; // the rest of the group's replies still come
                    } else if (!groupOk) {
                        fail();
                    }
                }
                case BODY -> {
                    if (r.startsWith("250")) {
                        accepted.incrementAndGet();
                    } else {
                        note("end of data: " + r);
                        failed.incrementAndGet();
                    }
                    sent++;
                    nextMessage();
                }
                case QUIT -> {
                    state = State.DONE;
                    ch.close();
                }
                default -> { }
            }
        }

        private void nextMessage() {
            if (sent >= messages) {
                quit();
                return;
            }
            state = State.MAIL_GROUP;
            repliesOwed = 3;
            groupOk = true;
            if (pipelining) {
                send("MAIL FROM:<load@bench.test>\r\nRCPT TO:<user" + sent + "@" + rcptDomain + ">\r\nDATA\r\n");
            } else {
                send("MAIL FROM:<load@bench.test>\r\n");
            }
        }

        private void quit() {
            state = State.QUIT;
            send("QUIT\r\n");
        }

        private void expect(String r, String code, Runnable then) {
            if (r.startsWith(code)) {
                then.run();
            } else {
                note(state + ": " + r);
                fail();
            }
        }

        private void note(String reason) {
            String key = reason.length() > 80 ? reason.substring(0, 80) : reason;
            why.computeIfAbsent(key.replaceAll("[0-9]{5,}", "N"), k -> new AtomicLong()).incrementAndGet();
        }

        private void fail() {
            failed.addAndGet(mode.equals("handshake") ? 1 : Math.max(0, messages - sent));
            sent = messages;
            state = State.DONE;
            ch.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (state != State.DONE) {
                note(state + ": connection closed");
                failed.addAndGet(mode.equals("handshake") ? 1 : Math.max(0, messages - sent));
            }
            ended(start);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            note(state + ": " + cause);
            ctx.close();
        }
    }

    public static void main(String[] a) throws Exception {
        if (a.length < 8) {
            System.err.println("usage: SmtpLoad host port messages concurrency perConnection plain|starttls|handshake"
                    + " bodyBytes recipientDomain [threads]");
            System.exit(2);
        }
        int messages = Integer.parseInt(a[2]);
        int concurrency = Integer.parseInt(a[3]);
        EventLoopGroup group = new NioEventLoopGroup(a.length > 8 ? Integer.parseInt(a[8]) : 2);
        try {
            SmtpLoad load = new SmtpLoad(a[0], Integer.parseInt(a[1]), messages, concurrency, Integer.parseInt(a[4]), a[5],
                    Integer.parseInt(a[6]), a[7], group);
            long t0 = System.nanoTime();
            for (int i = 0; i < concurrency; i++) {
                load.next();
            }
            if (!load.done.await(1, TimeUnit.HOURS)) {
                System.err.println("not done within an hour");
            }
            double s = (System.nanoTime() - t0) / 1e9;
            ConcurrentHistogram h = load.latencyMicros;
            System.out.printf("mode=%s messages=%d accepted=%d failed=%d connections=%d seconds=%.2f rate=%.1f/s"
                    + " conn_latency_ms p50=%.1f p90=%.1f p99=%.1f max=%.1f tls=%s%n", a[5], messages, load.accepted.get(),
                    load.failed.get(), load.connections.get(), s, load.accepted.get() / s,
                    h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(90) / 1000.0,
                    h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0,
                    OpenSsl.isAvailable() ? "openssl" : "jdk");
            load.why.forEach((k, v) -> System.err.println("failed: " + v + " x " + k));
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
