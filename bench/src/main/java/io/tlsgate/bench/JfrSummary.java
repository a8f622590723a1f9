package io.tlsgate.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * Reads a JFR recording of delivery-service and prints what the delivery benchmark needs
 * (JDK 17's {@code jfr} has no {@code view hot-methods}):
 * <ul>
 * <li>CPU samples ({@code jdk.ExecutionSample}) by thread group, by top frame (self), and by
 *     method anywhere on the stack (inclusive), each method counted once per sample;</li>
 * <li>where the delivery worker threads spend their wall time: every sleep, park, socket read
 *     and monitor wait they did (record them with threshold 0), by event type and the
 *     innermost {@code io.tlsgate} frame, against the recording's length times the number of
 *     workers;</li>
 * <li>garbage collections and the largest heap used.</li>
 * </ul>
 * <li>optionally, for each of some comma-separated strings, the CPU samples with a frame
 *     whose {@code class.method} contains it (to price one piece of work, e.g. a constructor).</li>
 * Usage: JfrSummary RECORDING.jfr [TOP [STRING,STRING...]]
 */
public final class JfrSummary {

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        int top = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        List<String> focus = args.length > 2 ? List.of(args[2].split(",")) : List.of();
        Map<String, Long> focused = new java.util.LinkedHashMap<>();
        focus.forEach(f -> focused.put(f, 0L));
        Map<String, Long> self = new HashMap<>();
        Map<String, Long> inclusive = new HashMap<>();
        Map<String, Long> byThread = new HashMap<>();
        Map<String, Long> workerSamples = new HashMap<>();
        Map<String, Long> blocked = new HashMap<>();
        Map<String, Long> blockedCount = new HashMap<>();
        Set<String> workers = new HashSet<>();
        long samples = 0;
        long gcs = 0;
        long gcNanos = 0;
        long maxHeapUsed = 0;
        Instant first = null;
        Instant last = null;
        try (RecordingFile rf = new RecordingFile(file)) {
            while (rf.hasMoreEvents()) {
                RecordedEvent e = rf.readEvent();
                String type = e.getEventType().getName();
                if (first == null || e.getStartTime().isBefore(first)) {
                    first = e.getStartTime();
                }
                if (last == null || e.getEndTime().isAfter(last)) {
                    last = e.getEndTime();
                }
                switch (type) {
                    case "jdk.ExecutionSample" -> {
                        samples++;
                        RecordedThread t = e.getThread("sampledThread");
                        String group = group(t);
                        byThread.merge(group, 1L, Long::sum);
                        RecordedStackTrace st = e.getStackTrace();
                        if (st == null || st.getFrames().isEmpty()) {
                            continue;
                        }
                        self.merge(name(st.getFrames().get(0)), 1L, Long::sum);
                        Set<String> seen = new HashSet<>();
                        for (RecordedFrame f : st.getFrames()) {
                            String n = name(f);
                            if (seen.add(n)) {
                                inclusive.merge(n, 1L, Long::sum);
                            }
                        }
                        for (String f : focus) {
                            if (seen.stream().anyMatch(n -> n.contains(f))) {
                                focused.merge(f, 1L, Long::sum);
                            }
                        }
                        if (group.equals("delivery-worker-#")) {
                            workerSamples.merge(firstTlsgate(st) + " <- " + name(st.getFrames().get(0)), 1L, Long::sum);
                        }
                    }
                    case "jdk.ThreadSleep", "jdk.ThreadPark", "jdk.SocketRead", "jdk.SocketWrite", "jdk.JavaMonitorEnter",
                            "jdk.JavaMonitorWait" -> {
                        RecordedThread t = e.getThread();
                        if (t == null || t.getJavaName() == null || !t.getJavaName().startsWith("delivery-worker-")) {
                            continue;
                        }
                        workers.add(t.getJavaName());
                        String key = type.substring(4) + " at " + firstTlsgate(e.getStackTrace());
                        blocked.merge(key, e.getDuration().toNanos(), Long::sum);
                        blockedCount.merge(key, 1L, Long::sum);
                    }
                    case "jdk.GarbageCollection" -> {
                        gcs++;
                        gcNanos += e.getDuration().toNanos();
                    }
                    case "jdk.GCHeapSummary" -> maxHeapUsed = Math.max(maxHeapUsed, e.getLong("heapUsed"));
                    default -> {
                    }
                }
            }
        }
        Duration length = first == null ? Duration.ZERO : Duration.between(first, last);
        System.out.printf("recording %s: %.1f s, %d CPU samples, %d GCs (%.0f ms in all), largest heap used %.0f MB%n", file,
                length.toMillis() / 1000.0, samples, gcs, gcNanos / 1e6, maxHeapUsed / 1e6);
        print("CPU samples by thread group", byThread, samples, top);
        print("CPU samples by top frame (self)", self, samples, top);
        print("CPU samples by method on the stack (inclusive)", inclusive, samples, top * 2);
        if (!focus.isEmpty()) {
            System.out.printf("%nCPU samples with a frame containing (of %d):%n", samples);
            for (Map.Entry<String, Long> f : focused.entrySet()) {
                System.out.printf("  %6d  %5.1f%%  %s%n", f.getValue(), 100.0 * f.getValue() / Math.max(1, samples), f.getKey());
            }
        }
        print("delivery-worker CPU samples by innermost io.tlsgate frame <- top frame", workerSamples, samples, top);
        if (!workers.isEmpty()) {
            long wall = length.toNanos() * workers.size();
            System.out.printf("%ndelivery workers: %d threads x %.1f s = %.1f s of wall time; blocked time by event and innermost "
                    + "io.tlsgate frame (count, seconds, share of that wall time):%n", workers.size(), length.toMillis() / 1000.0,
                    wall / 1e9);
            List<Map.Entry<String, Long>> rows = new ArrayList<>(blocked.entrySet());
            rows.sort(Map.Entry.<String, Long>comparingByValue().reversed());
            long sum = 0;
            for (Map.Entry<String, Long> r : rows) {
                sum += r.getValue();
                System.out.printf("  %8d  %8.1f s  %5.1f%%  %s%n", blockedCount.get(r.getKey()), r.getValue() / 1e9,
                        100.0 * r.getValue() / wall, r.getKey());
            }
            System.out.printf("  blocked in all: %.1f s (%.1f%%); the rest is on CPU or waiting for one%n", sum / 1e9,
                    100.0 * sum / wall);
        }
    }

    private static void print(String title, Map<String, Long> counts, long total, int top) {
        System.out.printf("%n%s (of %d):%n", title, total);
        counts.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(top)
                .forEach(en -> System.out.printf("  %6d  %5.1f%%  %s%n", en.getValue(), 100.0 * en.getValue() / Math.max(1, total),
                        en.getKey()));
    }

    private static String group(RecordedThread t) {
        if (t == null) {
            return "?";
        }
        String n = t.getJavaName() != null ? t.getJavaName() : t.getOSName();
        return n == null ? "?" : n.replaceAll("\\d+", "#");
    }

    private static String name(RecordedFrame f) {
        return f.getMethod().getType().getName() + "." + f.getMethod().getName();
    }

    /** The innermost frame of tlsgate's own code, with the frame it called (what it waits in). */
    private static String firstTlsgate(RecordedStackTrace st) {
        if (st == null) {
            return "?";
        }
        List<RecordedFrame> frames = st.getFrames();
        for (int i = 0; i < frames.size(); i++) {
            String n = name(frames.get(i));
            if (n.startsWith("io.tlsgate.")) {
                return n.substring("io.tlsgate.".length()) + ":" + frames.get(i).getLineNumber()
                        + (i > 0 ? " -> " + shortName(frames.get(i - 1)) : "");
            }
        }
        return frames.isEmpty() ? "?" : "(no tlsgate frame) " + name(frames.get(0));
    }

    private static String shortName(RecordedFrame f) {
        String type = f.getMethod().getType().getName();
        return type.substring(type.lastIndexOf('.') + 1) + "." + f.getMethod().getName();
    }
}
