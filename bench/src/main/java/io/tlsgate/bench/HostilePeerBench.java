package io.tlsgate.bench;

import io.grpc.ManagedChannel;
import io.tlsgate.bench.HostilePeer.Variant;
import io.tlsgate.bench.HostilePeerReport.MailLog;
import io.tlsgate.bench.HostilePeerReport.Summary;
import io.tlsgate.bench.ProcessSampler.Histogram;
import io.tlsgate.bench.ProcessSampler.Sample;
import io.tlsgate.proto.delivery.v1.Envelope;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * "The delivery-service heap stays bounded while a peer streams replies": a hostile SMTP
 * server on 127.0.0.1 ({@link HostilePeer}) behind an SMTP route of a running devstack,
 * delivery-service kept busy with it (gRPC Enqueue at a fixed rate), and every second
 * delivery-service's heap (from {@code /q/metrics}), its RSS ({@code ps}) ({@link ProcessSampler}),
 * what the server managed to write, the connections it accepted and what the mail log says
 * about the cut connections ({@link HostilePeerReport}).
 *
 * <p>Variants A, B and C: see {@link HostilePeer}. Live heap before and after each variant:
 * {@code jcmd PID GC.class_histogram} (a full GC).
 *
 * <p>Usage: HostilePeerBench DATA_DIR PORT_OFFSET DELIVERY_PID SECONDS RATE [VARIANTS]
 * (devstack's data directory, its port offset, delivery-service's process id, seconds per
 * variant, messages enqueued per second, variants to run, default ABC).
 */
public final class HostilePeerBench {

    static final String DOMAIN = "hostile.bench";
    static final long MIB = 1024 * 1024;

    public static void main(String[] args) throws Exception {
        Path data = Path.of(args[0]);
        int offset = Integer.parseInt(args[1]);
        long pid = Long.parseLong(args[2]);
        int seconds = Integer.parseInt(args[3]);
        int rate = Integer.parseInt(args[4]);
        String variants = args.length > 5 ? args[5] : "ABC";
        Properties secrets = new Properties();
        try (InputStream in = Files.newInputStream(data.resolve("secrets.properties"))) {
            secrets.load(in);
        }
        HostilePeerBench b = new HostilePeerBench(data, offset, pid, secrets.getProperty("tlsgate.auth.tokens.dev-admin.token"),
                rate);
        try {
            b.run(seconds, variants);
        } finally {
            b.close();
        }
    }

    private final Path log;
    private final int offset;
    private final long pid;
    private final String admin;
    private final int rate;
    private final HttpClient http;
    private final HostilePeer peer;
    private final ProcessSampler sampler;
    private final ManagedChannel delivery;
    private final EnqueueCalls enqueue;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "enqueue");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong enqueueSkipped = new AtomicLong();
    private long logOffset;
    private final long tcpBuffers;

    HostilePeerBench(Path data, int offset, long pid, String admin, int rate) throws IOException {
        this.log = data.resolve("logs").resolve("delivery-service.log");
        this.offset = offset;
        this.pid = pid;
        this.admin = admin;
        this.rate = rate;
        this.peer = new HostilePeer();
        this.http = devstackHttps(data);
        this.sampler = new ProcessSampler(pid, 8083 + offset, http);
        System.setProperty("tlsgate.cert-grpc", "localhost:" + (8092 + offset));
        this.delivery = ServiceChannel.open("localhost", 8093 + offset, data.resolve("secrets.properties"), "listener-service",
                "delivery-service");
        this.enqueue = new EnqueueCalls(delivery, 200);
        this.tcpBuffers = ProcessSampler.tcpBuffers();
    }

    void close() throws Exception {
        timer.shutdownNow();
        delivery.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        peer.close();
    }

    void run(int seconds, String variants) throws Exception {
        System.out.printf("hostile peer on 127.0.0.1:%d; delivery-service pid %d, https://localhost:%d; %d messages/s to %s "
                + "while a variant runs; %d s per variant%n", peer.port(), pid, 8083 + offset, rate, DOMAIN, seconds);
        System.out.printf("loopback TCP buffers at most %d KiB (tcp_wmem max + tcp_rmem max)%n", tcpBuffers / 1024);
        configure();
        logOffset = Files.exists(log) ? Files.size(log) : 0;

        Histogram first = sampler.histogram("start (before any variant)");
        List<Summary> summaries = new ArrayList<>();
        Histogram before = first;
        Histogram last = first;
        phase(Variant.IDLE, 10, false, null);
        for (char v : variants.toCharArray()) {
            Variant variant = Variant.valueOf(String.valueOf(v));
            Summary s = new Summary(variant, seconds);
            s.phase = summaries.size() + 1;
            phase(variant, seconds, true, s);
            Histogram after = sampler.histogram("after variant " + variant);
            s.liveBefore = before.totalBytes;
            s.liveAfter = after.totalBytes;
            summaries.add(s);
            before = after;
            last = after;
        }
        // The last trickles end at their cap (C: 20 s) or when the next command gets a 421.
        Summary drain = new Summary(Variant.IDLE, 30);
        phase(Variant.IDLE, 30, false, drain);
        Histogram end = sampler.histogram("end (after 30 s without load)");
        // A variant's last connections end during the next phase (C's after up to 20 s): count them all now.
        summaries.forEach(s -> s.ended = peer.ended(s.phase));

        HostilePeerReport.print(first, last, end, summaries, tcpBuffers);
    }

    /** Bounce profile with a short retry, a destination entry using it, and the route to the peer. */
    private void configure() throws Exception {
        String profile = "{\"name\":\"hostile-bench\",\"maxRetries\":1000,\"maxTimeInQueueSeconds\":86400,\"initialRetrySeconds\":%d,"
                + "\"maxRetrySeconds\":%d,\"sendHardBounces\":false,\"sendDelayWarnings\":false}";
        HttpResponse<String> r = rest("POST", 8081, "/api/v1/bounce-profiles", String.format(profile, 1, 1));
        System.out.println("POST /api/v1/bounce-profiles initialRetrySeconds=1 maxRetrySeconds=1: " + r.statusCode() + " " + oneLine(r.body()));
        if (r.statusCode() / 100 != 2) {
            r = rest("POST", 8081, "/api/v1/bounce-profiles", String.format(profile, 60, 60));
            System.out.println("POST /api/v1/bounce-profiles initialRetrySeconds=60 maxRetrySeconds=60 (the smallest allowed): "
                    + r.statusCode());
            ok(r);
        }
        ok(rest("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + DOMAIN + "\",\"tls\":\"NONE\",\"bounceProfile\":\"hostile-bench\"}"));
        ok(rest("POST", 8081, "/api/v1/smtp-routes", "{\"domain\":\"" + DOMAIN + "\",\"hops\":[\"127.0.0.1:" + peer.port() + "\"]}"));
        System.out.println("GET /api/v1/smtp-routes/resolve?domain=" + DOMAIN + ": "
                + oneLine(ok(rest("GET", 8081, "/api/v1/smtp-routes/resolve?domain=" + DOMAIN, null))));
        System.out.println("GET /api/v1/destinations/resolve?domain=" + DOMAIN + ": "
                + oneLine(ok(rest("GET", 8081, "/api/v1/destinations/resolve?domain=" + DOMAIN, null))));
        Thread.sleep(2000); // delivery-service drops its policy cache on WatchChanges
    }

    /** Runs one variant for {@code seconds}, sampling every second; enqueues at the rate when {@code load}. */
    private void phase(Variant v, int seconds, boolean load, Summary s) throws Exception {
        System.out.printf("%n== %s: %s, %d s%s%n", v == Variant.IDLE ? "no load" : "variant " + v, v.what, seconds,
                load ? ", " + rate + " messages/s" : "");
        System.out.println("   t | heap MiB (old) | direct | RSS MiB | cpu | conns +new open | written KiB +new | enq (err) | mail log: "
                + "cut +new [size/line/lines/timeout/other] | load");
        peer.phase = s == null ? 0 : s.phase;
        peer.variant = v;
        ScheduledFuture<?> enq = load ? timer.scheduleAtFixedRate(this::enqueueOne, 0, 1_000_000 / rate, TimeUnit.MICROSECONDS) : null;
        long start = System.nanoTime();
        long conns0 = peer.accepted.get();
        long bytes0 = peer.written.get();
        long prevConns = conns0;
        long prevBytes = bytes0;
        long prevCut = 0;
        MailLog ml = s == null ? new MailLog() : s.log;
        for (int t = 1; t <= seconds; t++) {
            long due = start + t * 1_000_000_000L;
            long wait = due - System.nanoTime();
            if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
            }
            Sample m = sampler.sample();
            logOffset = ml.read(log, logOffset);
            long conns = peer.accepted.get();
            long bytes = peer.written.get();
            System.out.printf(Locale.ROOT, "%4d | %6.1f (%5.1f) | %5.1f | %6.1f | %3.0f%% | %5d %+4d %3d | %9.0f %+7.0f | %6d (%d) | %d %+d [%d/%d/%d/%d/%d] | %s%n",
                    t, m.heap() / (double) MIB, m.old() / (double) MIB, m.direct() / (double) MIB, m.rss() / (double) MIB, m.cpu() * 100,
                    conns - conns0, conns - prevConns, peer.open.get(), (bytes - bytes0) / 1024.0,
                    (bytes - prevBytes) / 1024.0, enqueue.ok.get(), enqueue.failed.get(), ml.cut, ml.cut - prevCut,
                    ml.sizeCap, ml.lineCap, ml.linesCap, ml.timeout, ml.otherCut, ProcessSampler.load());
            prevConns = conns;
            prevBytes = bytes;
            prevCut = ml.cut;
            if (s != null && m.heap() >= 0) {
                s.samples.add(m);
            }
        }
        if (enq != null) {
            enq.cancel(false);
        }
        peer.variant = Variant.IDLE;
        if (s != null) {
            s.connections = peer.accepted.get() - conns0;
            s.bytes = peer.written.get() - bytes0;
            s.enqueued = enqueue.ok.get();
            ml.print();
        }
        try {
            System.out.println("GET /api/v1/queue: " + oneLine(rest("GET", 8083, "/api/v1/queue", null).body()));
        } catch (IOException e) {
            System.out.println("GET /api/v1/queue: " + e);
        }
        Throwable firstError = enqueue.firstError.getAndSet(null);
        if (firstError != null) {
            System.out.println("first enqueue error: " + firstError);
        }
    }

    private static final byte[] CONTENT = ("From: bench@tlsgate.test\r\nTo: user@" + DOMAIN + "\r\nSubject: hostile peer bench\r\n\r\n"
            + "x".repeat(400) + "\r\n").getBytes(StandardCharsets.US_ASCII);

    private void enqueueOne() {
        Envelope envelope = Envelope.newBuilder().setMailFrom("bench@tlsgate.test")
                .addRcptTo("user" + enqueue.ok.get() % 100 + "@" + DOMAIN).setIcid(1).setListener("inbound").build();
        if (!enqueue.trySend(envelope, CONTENT)) {
            enqueueSkipped.incrementAndGet();
        }
    }

    private HttpResponse<String> rest(String method, int basePort, String path, String json) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://localhost:" + (basePort + offset) + path))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + admin);
        if (json != null) {
            b.header("Content-Type", "application/json");
        }
        b.method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String ok(HttpResponse<String> r) {
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException(r.statusCode() + " " + r.request().uri() + ": " + r.body());
        }
        return r.body();
    }

    private static String oneLine(String s) {
        String l = s.replaceAll("\\s+", " ");
        return l.length() > 300 ? l.substring(0, 300) + "..." : l;
    }

    /** An HTTP client trusting devstack's REST CA ({@code <data>/https-ca.pem}). */
    static HttpClient devstackHttps(Path data) throws IOException {
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(data.resolve("https-ca.pem"))) {
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry("ca", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
            javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance("PKIX");
            tmf.init(ks);
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return HttpClient.newBuilder().sslContext(ctx).connectTimeout(Duration.ofSeconds(3)).build();
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("cannot trust devstack's REST CA: " + e.getMessage(), e);
        }
    }
}
