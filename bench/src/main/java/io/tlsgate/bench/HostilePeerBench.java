package io.tlsgate.bench;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.tlsgate.proto.delivery.v1.DeliveryServiceGrpc;
import io.tlsgate.proto.delivery.v1.EnqueueChunk;
import io.tlsgate.proto.delivery.v1.EnqueueReply;
import io.tlsgate.proto.delivery.v1.Envelope;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * "The delivery-service heap stays bounded while a peer streams replies": a hostile SMTP
 * server on 127.0.0.1 behind an SMTP route of a running devstack, delivery-service kept busy
 * with it (gRPC Enqueue at a fixed rate), and every second delivery-service's heap (from
 * {@code /q/metrics}), its RSS ({@code ps}), what the server managed to write, the
 * connections it accepted and what the mail log says about the cut connections.
 *
 * <p>Per connection the server greets, reads EHLO and then answers it with
 * <ul>
 *   <li>A: {@code 250-} continuation lines of 512 octets (RFC 5321's longest line), as fast as
 *       the socket takes them (the client's 32 KiB reply cap comes first, at line 64);</li>
 *   <li>B: {@code 250-} and then one endless line without LF (the 2,048-octet line cap);</li>
 *   <li>C: one short {@code 250-} line every 200 ms, for ever (the 100-line cap, after 20 s).</li>
 * </ul>
 * Live heap before and after each variant: {@code jcmd PID GC.class_histogram} (a full GC).
 *
 * <p>Usage: HostilePeerBench DATA_DIR PORT_OFFSET DELIVERY_PID SECONDS RATE [VARIANTS]
 * (devstack's data directory, its port offset, delivery-service's process id, seconds per
 * variant, messages enqueued per second, variants to run, default ABC).
 */
public final class HostilePeerBench {

    static final String DOMAIN = "hostile.bench";
    static final int LINE = 512;
    static final int TRICKLE_MS = 200;
    static final long MIB = 1024 * 1024;
    private static final Pattern METRIC = Pattern.compile("^([a-z_]+)\\{([^}]*)\\} (\\S+)$");
    private static final Pattern MAIL_LOG = Pattern.compile(".*\\[io\\.tlsgate\\.maillog\\] \\([^)]*\\) (.*)$");
    private static final Pattern HISTO = Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(.+?)\\s*$");
    private static final Pattern HISTO_TOTAL = Pattern.compile("^Total\\s+(\\d+)\\s+(\\d+)\\s*$");

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
                secrets.getProperty("tlsgate.auth.service-token"), rate);
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
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    private final Peer peer;
    private final ManagedChannel delivery;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "enqueue");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong enqueued = new AtomicLong();
    private final AtomicLong enqueueErrors = new AtomicLong();
    private final AtomicLong enqueueSkipped = new AtomicLong();
    private final Semaphore inFlight = new Semaphore(200);
    private long logOffset;
    private final long tcpBuffers;
    private String firstEnqueueError;

    HostilePeerBench(Path data, int offset, long pid, String admin, String service, int rate) throws IOException {
        this.log = data.resolve("logs").resolve("delivery-service.log");
        this.offset = offset;
        this.pid = pid;
        this.admin = admin;
        this.rate = rate;
        this.peer = new Peer();
        Metadata auth = new Metadata();
        auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + service);
        this.delivery = NettyChannelBuilder.forAddress("localhost", 8083 + offset).usePlaintext().directExecutor()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(auth)).build();
        this.tcpBuffers = maxOf("/proc/sys/net/ipv4/tcp_wmem") + maxOf("/proc/sys/net/ipv4/tcp_rmem");
    }

    void close() throws Exception {
        timer.shutdownNow();
        delivery.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        peer.close();
    }

    void run(int seconds, String variants) throws Exception {
        System.out.printf("hostile peer on 127.0.0.1:%d; delivery-service pid %d, http://localhost:%d; %d messages/s to %s "
                + "while a variant runs; %d s per variant%n", peer.port(), pid, 8083 + offset, rate, DOMAIN, seconds);
        System.out.printf("loopback TCP buffers at most %d KiB (tcp_wmem max + tcp_rmem max)%n", tcpBuffers / 1024);
        configure();
        logOffset = Files.exists(log) ? Files.size(log) : 0;

        Histogram first = histogram("start (before any variant)");
        List<Summary> summaries = new ArrayList<>();
        Histogram before = first;
        Histogram last = first;
        phase(Variant.IDLE, 10, false, null);
        for (char v : variants.toCharArray()) {
            Variant variant = Variant.valueOf(String.valueOf(v));
            Summary s = new Summary(variant, seconds);
            s.phase = summaries.size() + 1;
            phase(variant, seconds, true, s);
            Histogram after = histogram("after variant " + variant);
            s.liveBefore = before.totalBytes;
            s.liveAfter = after.totalBytes;
            summaries.add(s);
            before = after;
            last = after;
        }
        // The last trickles end at their cap (C: 20 s) or when the next command gets a 421.
        Summary drain = new Summary(Variant.IDLE, 30);
        phase(Variant.IDLE, 30, false, drain);
        Histogram end = histogram("end (after 30 s without load)");
        // A variant's last connections end during the next phase (C's after up to 20 s): count them all now.
        summaries.forEach(s -> s.ended = peer.ended(s.phase));

        System.out.println();
        System.out.println("== growth between the first and the last live-heap histogram (top 10 classes by bytes)");
        System.out.printf("live heap %.1f MiB -> %.1f MiB after the variants, %.1f MiB after the drain%n", first.totalBytes / (double) MIB,
                last.totalBytes / (double) MIB, end.totalBytes / (double) MIB);
        end.growthOver(first).stream().limit(10).forEach(System.out::println);

        System.out.println();
        System.out.println("== summary");
        System.out.println("| variant | peer sends | connections | per s | bytes/conn min / median / max | heap used MiB min / max / last "
                + "| live heap MiB before -> after | RSS MiB min / max | cut (mail log) | verdict |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        for (Summary s : summaries) {
            System.out.println(s.row(tcpBuffers));
        }
        for (Summary s : summaries) {
            System.out.println(s.verdict(tcpBuffers));
        }
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
            Sample m = sample();
            readLog(ml);
            long conns = peer.accepted.get();
            long bytes = peer.written.get();
            System.out.printf(Locale.ROOT, "%4d | %6.1f (%5.1f) | %5.1f | %6.1f | %3.0f%% | %5d %+4d %3d | %9.0f %+7.0f | %6d (%d) | %d %+d [%d/%d/%d/%d/%d] | %s%n",
                    t, m.heap / (double) MIB, m.old / (double) MIB, m.direct / (double) MIB, m.rss / (double) MIB, m.cpu * 100,
                    conns - conns0, conns - prevConns, peer.open.get(), (bytes - bytes0) / 1024.0,
                    (bytes - prevBytes) / 1024.0, enqueued.get(), enqueueErrors.get(), ml.cut, ml.cut - prevCut,
                    ml.sizeCap, ml.lineCap, ml.linesCap, ml.timeout, ml.otherCut, load());
            prevConns = conns;
            prevBytes = bytes;
            prevCut = ml.cut;
            if (s != null && m.heap >= 0) {
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
            s.enqueued = enqueued.get();
            ml.print();
        }
        try {
            System.out.println("GET /api/v1/queue: " + oneLine(rest("GET", 8083, "/api/v1/queue", null).body()));
        } catch (IOException e) {
            System.out.println("GET /api/v1/queue: " + e);
        }
        if (firstEnqueueError != null) {
            System.out.println("first enqueue error: " + firstEnqueueError);
            firstEnqueueError = null;
        }
    }

    private static final byte[] CONTENT = ("From: bench@tlsgate.test\r\nTo: user@" + DOMAIN + "\r\nSubject: hostile peer bench\r\n\r\n"
            + "x".repeat(400) + "\r\n").getBytes(StandardCharsets.US_ASCII);

    private void enqueueOne() {
        if (!inFlight.tryAcquire()) {
            enqueueSkipped.incrementAndGet();
            return;
        }
        StreamObserver<EnqueueChunk> req = DeliveryServiceGrpc.newStub(delivery).enqueue(new StreamObserver<EnqueueReply>() {
            @Override
            public void onNext(EnqueueReply value) {
                enqueued.incrementAndGet();
            }

            @Override
            public void onError(Throwable t) {
                enqueueErrors.incrementAndGet();
                if (firstEnqueueError == null) {
                    firstEnqueueError = t.toString();
                }
                inFlight.release();
            }

            @Override
            public void onCompleted() {
                inFlight.release();
            }
        });
        req.onNext(EnqueueChunk.newBuilder().setEnvelope(Envelope.newBuilder().setMailFrom("bench@tlsgate.test")
                .addRcptTo("user" + enqueued.get() % 100 + "@" + DOMAIN).setIcid(1).setListener("inbound")).build());
        req.onNext(EnqueueChunk.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(CONTENT)).build());
        req.onCompleted();
    }

    /** One second's numbers; -1 where delivery-service did not answer. */
    record Sample(long heap, long old, long direct, long rss, double cpu) {}

    private Sample sample() {
        long heap = -1;
        long old = -1;
        long direct = -1;
        double cpu = -1;
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + (8083 + offset) + "/q/metrics"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            heap = 0;
            old = 0;
            direct = 0;
            for (String l : r.body().split("\n")) {
                Matcher m = METRIC.matcher(l);
                if (!m.matches()) {
                    continue;
                }
                String name = m.group(1);
                String tags = m.group(2);
                double value = Double.parseDouble(m.group(3));
                if (name.equals("jvm_memory_used_bytes") && tags.contains("area=\"heap\"")) {
                    heap += (long) value;
                    if (tags.contains("Tenured") || tags.contains("Old Gen")) {
                        old += (long) value;
                    }
                } else if (name.equals("jvm_buffer_memory_used_bytes") && tags.contains("id=\"direct\"")) {
                    direct += (long) value;
                } else if (name.equals("process_cpu_usage")) {
                    cpu = value * Runtime.getRuntime().availableProcessors();
                }
            }
        } catch (IOException e) {
            // shown as -1
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return new Sample(heap, old, direct, rss(), cpu);
    }

    /** Resident set size in bytes, as {@code ps -o rss=} reports it. */
    private long rss() {
        try {
            Process p = new ProcessBuilder("ps", "-o", "rss=", "-p", String.valueOf(pid)).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
            p.waitFor();
            return Long.parseLong(out) * 1024;
        } catch (IOException | NumberFormatException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** The mail-log lines of one phase, counted by what cut the connection. */
    static final class MailLog {
        long cut;
        long sizeCap;
        long lineCap;
        long linesCap;
        long timeout;
        long otherCut;
        long delayed;
        long other;
        long warnings;
        final Map<String, Long> patterns = new LinkedHashMap<>();
        final Map<String, String> examples = new HashMap<>();
        final List<String> warningLines = new ArrayList<>();

        void add(String line) {
            if (line.startsWith("Connection Error")) {
                cut++;
                if (line.contains("reply longer than")) {
                    sizeCap++;
                } else if (line.contains("reply line longer than")) {
                    lineCap++;
                } else if (line.contains("reply of more than")) {
                    linesCap++;
                } else if (line.contains("no reply within")) {
                    timeout++;
                } else {
                    otherCut++;
                }
            } else if (line.startsWith("Delayed:")) {
                delayed++;
            } else {
                other++;
            }
            String p = line.replaceAll("\\d+", "N");
            p = p.length() > 160 ? p.substring(0, 160) + "..." : p;
            patterns.merge(p, 1L, Long::sum);
            examples.putIfAbsent(p, line.length() > 220 ? line.substring(0, 220) + "..." : line);
        }

        void print() {
            System.out.printf("mail log: %d connections cut (reply over 32 KiB %d, line over 2048 octets %d, over 100 lines %d, "
                    + "reply timeout %d, other %d), %d Delayed, %d other mail-log lines, %d WARN/ERROR lines%n", cut, sizeCap,
                    lineCap, linesCap, timeout, otherCut, delayed, other, warnings);
            patterns.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(6)
                    .forEach(e -> System.out.printf("  %6d x %s%n", e.getValue(), examples.get(e.getKey())));
            warningLines.stream().limit(5).forEach(l -> System.out.println("  " + l));
        }
    }

    private void readLog(MailLog ml) {
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long len = f.length();
            if (len <= logOffset) {
                return;
            }
            byte[] b = new byte[(int) Math.min(len - logOffset, 64 * MIB)];
            f.seek(logOffset);
            f.readFully(b);
            int lastNl = -1;
            for (int i = b.length - 1; i >= 0; i--) {
                if (b[i] == '\n') {
                    lastNl = i;
                    break;
                }
            }
            if (lastNl < 0) {
                return;
            }
            logOffset += lastNl + 1;
            for (String l : new String(b, 0, lastNl, StandardCharsets.UTF_8).split("\n")) {
                Matcher m = MAIL_LOG.matcher(l);
                if (m.matches()) {
                    ml.add(m.group(1));
                } else if (l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("OutOfMemoryError")) {
                    ml.warnings++;
                    if (ml.warningLines.size() < 5) {
                        ml.warningLines.add(l.length() > 300 ? l.substring(0, 300) + "..." : l);
                    }
                }
            }
        } catch (IOException e) {
            // not there yet
        }
    }

    /** A class histogram of delivery-service's live heap ({@code jcmd PID GC.class_histogram}: a full GC first). */
    static final class Histogram {
        long totalBytes;
        long totalInstances;
        final Map<String, long[]> classes = new HashMap<>();

        List<String> growthOver(Histogram earlier) {
            List<Map.Entry<String, long[]>> grown = new ArrayList<>(classes.entrySet());
            grown.sort(Comparator.comparingLong((Map.Entry<String, long[]> e) -> e.getValue()[1]
                    - earlier.classes.getOrDefault(e.getKey(), new long[2])[1]).reversed());
            List<String> out = new ArrayList<>();
            for (Map.Entry<String, long[]> e : grown) {
                long[] was = earlier.classes.getOrDefault(e.getKey(), new long[2]);
                out.add(String.format(Locale.ROOT, "  %+10d bytes %+8d instances  %s (now %d bytes)", e.getValue()[1] - was[1],
                        e.getValue()[0] - was[0], e.getKey(), e.getValue()[1]));
            }
            return out;
        }
    }

    private Histogram histogram(String when) throws Exception {
        Path out = Files.createTempFile("hostile-histo-", ".txt");
        try {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder("jcmd", String.valueOf(pid), "GC.class_histogram").redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("jcmd did not finish");
            }
            Histogram h = new Histogram();
            List<String> top = new ArrayList<>();
            for (String l : Files.readAllLines(out, StandardCharsets.UTF_8)) {
                Matcher m = HISTO.matcher(l);
                if (m.matches()) {
                    h.classes.put(m.group(3), new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))});
                    if (top.size() < 8) {
                        top.add(l);
                    }
                }
                Matcher t = HISTO_TOTAL.matcher(l);
                if (t.matches()) {
                    h.totalInstances = Long.parseLong(t.group(1));
                    h.totalBytes = Long.parseLong(t.group(2));
                }
            }
            System.out.printf(Locale.ROOT, "%n== live heap %s: %.1f MiB in %d objects (jcmd %d GC.class_histogram, %d ms); top classes:%n",
                    when, h.totalBytes / (double) MIB, h.totalInstances, pid, (System.nanoTime() - t0) / 1_000_000);
            top.forEach(System.out::println);
            return h;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** What one variant did. */
    static final class Summary {
        final Variant variant;
        final int seconds;
        int phase;
        final List<Sample> samples = new ArrayList<>();
        final MailLog log = new MailLog();
        long connections;
        long bytes;
        long enqueued;
        long liveBefore;
        long liveAfter;
        List<Conn> ended = List.of();

        Summary(Variant variant, int seconds) {
            this.variant = variant;
            this.seconds = seconds;
        }

        long[] perConnection() {
            return ended.stream().mapToLong(Conn::bytes).sorted().toArray();
        }

        String row(long tcpBuffers) {
            long[] per = perConnection();
            return String.format(Locale.ROOT, "| %s | %s | %d | %.1f | %s | %s | %.1f -> %.1f | %s | %s | %s |", variant, variant.what,
                    connections, connections / (double) seconds,
                    per.length == 0 ? "-" : kib(per[0]) + " / " + kib(per[per.length / 2]) + " / " + kib(per[per.length - 1]),
                    mib(samples.stream().mapToLong(Sample::heap).min().orElse(-1)) + " / "
                            + mib(samples.stream().mapToLong(Sample::heap).max().orElse(-1)) + " / "
                            + mib(samples.isEmpty() ? -1 : samples.get(samples.size() - 1).heap()),
                    liveBefore / (double) MIB, liveAfter / (double) MIB,
                    mib(samples.stream().mapToLong(Sample::rss).min().orElse(-1)) + " / "
                            + mib(samples.stream().mapToLong(Sample::rss).max().orElse(-1)),
                    log.sizeCap + log.lineCap + log.linesCap + " of " + log.cut + " by a cap", bounded(tcpBuffers) ? "bounded" : "NOT bounded");
        }

        /**
     * Per connection no more than the cap plus both sockets' buffers, and the live heap (after a
     * full GC) within 4 MiB of where the variant started: with over 1,000 connections a variant,
     * a leak of more than a few KiB per connection would show.
     */
        boolean bounded(long tcpBuffers) {
            long[] per = perConnection();
            boolean bytesOk = per.length == 0 || per[per.length - 1] <= variant.cap + tcpBuffers;
            return bytesOk && liveAfter - liveBefore < 4 * MIB;
        }

        String verdict(long tcpBuffers) {
            long[] per = perConnection();
            long maxHeap = samples.stream().mapToLong(Sample::heap).max().orElse(-1);
            long minRss = samples.stream().mapToLong(Sample::rss).min().orElse(-1);
            long maxRss = samples.stream().mapToLong(Sample::rss).max().orElse(-1);
            long[] ms = ended.stream().mapToLong(Conn::millis).sorted().toArray();
            return String.format(Locale.ROOT, "verdict %s: %s. %d connections (%d ended and counted, each open %s ms median, %s ms "
                    + "longest), largest %s written to one (bound: cap %d + TCP buffers %d KiB); live heap %+.1f MiB over the variant (%.1f KiB per connection); "
                    + "heap used peaked at %s MiB; RSS %s-%s MiB; %d connections cut by a reply cap in the mail log.",
                    variant, bounded(tcpBuffers) ? "heap bounded" : "NOT BOUNDED", connections, per.length,
                    ms.length == 0 ? "-" : String.valueOf(ms[ms.length / 2]), ms.length == 0 ? "-" : String.valueOf(ms[ms.length - 1]),
                    per.length == 0 ? "-" : kib(per[per.length - 1]) + " KiB", variant.cap, tcpBuffers / 1024,
                    (liveAfter - liveBefore) / (double) MIB,
                    connections == 0 ? 0 : (liveAfter - liveBefore) / 1024.0 / connections, mib(maxHeap), mib(minRss), mib(maxRss),
                    log.sizeCap + log.lineCap + log.linesCap);
        }

        private static String kib(long b) {
            return String.format(Locale.ROOT, "%.1f", b / 1024.0);
        }

        private static String mib(long b) {
            return b < 0 ? "?" : String.format(Locale.ROOT, "%.1f", b / (double) MIB);
        }
    }

    /** The hostile SMTP server: a thread per connection, what it does set by {@link #variant}. */
    final class Peer implements AutoCloseable {
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

        Peer() throws IOException {
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

    private HttpResponse<String> rest(String method, int basePort, String path, String json) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://localhost:" + (basePort + offset) + path))
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

    /** The 1-minute load average ({@code /proc/loadavg}, as uptime shows it). */
    static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "?";
        }
    }

    private static long maxOf(String sysctl) {
        try {
            // Files.readString stops after the first read of a sysctl file ("4"): read it as a line.
            String line;
            try (java.io.BufferedReader in = Files.newBufferedReader(Path.of(sysctl))) {
                line = in.readLine();
            }
            String[] v = line.trim().split("\\s+");
            return Long.parseLong(v[v.length - 1]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
