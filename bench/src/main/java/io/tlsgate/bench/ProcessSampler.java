package io.tlsgate.bench;

import static io.tlsgate.bench.HostilePeerBench.MIB;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Samples delivery-service's process for {@link HostilePeerBench}: heap used (old generation
 * apart), direct buffers and CPU from its {@code /q/metrics}, RSS from {@code ps}, and the
 * live heap from {@code jcmd PID GC.class_histogram} (a full GC first); and the machine's
 * 1-minute load and loopback TCP buffer limits.
 */
final class ProcessSampler {

    private static final Pattern METRIC = Pattern.compile("^([a-z_]+)\\{([^}]*)\\} (\\S+)$");
    private static final Pattern HISTO = Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(.+?)\\s*$");
    private static final Pattern HISTO_TOTAL = Pattern.compile("^Total\\s+(\\d+)\\s+(\\d+)\\s*$");

    /** One second's numbers; -1 where delivery-service did not answer. */
    record Sample(long heap, long old, long direct, long rss, double cpu) {}

    private final long pid;
    private final int port;
    private final HttpClient http;

    /** {@code port}: delivery-service's HTTP port (its {@code /q/metrics}). */
    ProcessSampler(long pid, int port, HttpClient http) {
        this.pid = pid;
        this.port = port;
        this.http = http;
    }

    Sample sample() {
        long heap = -1;
        long old = -1;
        long direct = -1;
        double cpu = -1;
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("https://localhost:" + port + "/q/metrics"))
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

    /** Takes a class histogram and prints its total and top classes, headed with {@code when}. */
    Histogram histogram(String when) throws Exception {
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

    /** The 1-minute load average ({@code /proc/loadavg}, as uptime shows it). */
    static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "?";
        }
    }

    /** What loopback TCP can hold between two sockets at most: {@code tcp_wmem} max + {@code tcp_rmem} max (bytes). */
    static long tcpBuffers() {
        return maxOf("/proc/sys/net/ipv4/tcp_wmem") + maxOf("/proc/sys/net/ipv4/tcp_rmem");
    }

    private static long maxOf(String sysctl) {
        try {
            // Files.readString stops after the first read of a sysctl file ("4"): read it as a line.
            String line;
            try (BufferedReader in = Files.newBufferedReader(Path.of(sysctl))) {
                line = in.readLine();
            }
            String[] v = line.trim().split("\\s+");
            return Long.parseLong(v[v.length - 1]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
