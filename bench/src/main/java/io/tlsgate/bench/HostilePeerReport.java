package io.tlsgate.bench;

import static io.tlsgate.bench.HostilePeerBench.MIB;

import io.tlsgate.bench.HostilePeer.Conn;
import io.tlsgate.bench.HostilePeer.Variant;
import io.tlsgate.bench.ProcessSampler.Histogram;
import io.tlsgate.bench.ProcessSampler.Sample;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@link HostilePeerBench} reports: per variant a {@link Summary} (connections, bytes per
 * connection, heap, RSS, the mail log, the verdict), the mail-log lines of a phase counted by
 * what cut the connection ({@link MailLog}), and the closing growth list and summary table.
 */
final class HostilePeerReport {

    private HostilePeerReport() {
    }

    /**
     * The closing part: what grew between the {@code first} and the {@code end} live-heap
     * histogram ({@code last}: after the last variant), a table row per variant, then the verdicts.
     */
    static void print(Histogram first, Histogram last, Histogram end, List<Summary> summaries, long tcpBuffers) {
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

    /** The mail-log lines of one phase, counted by what cut the connection. */
    static final class MailLog {
        private static final Pattern MAIL_LOG = Pattern.compile(".*\\[io\\.tlsgate\\.maillog\\] \\([^)]*\\) (.*)$");

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

        /**
         * Counts the whole lines of the service log {@code log} from {@code offset} on (mail-log
         * lines by cause, WARN/ERROR lines apart); returns the offset after the last whole line.
         */
        long read(Path log, long offset) {
            try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
                long len = f.length();
                if (len <= offset) {
                    return offset;
                }
                byte[] b = new byte[(int) Math.min(len - offset, 64 * MIB)];
                f.seek(offset);
                f.readFully(b);
                int lastNl = -1;
                for (int i = b.length - 1; i >= 0; i--) {
                    if (b[i] == '\n') {
                        lastNl = i;
                        break;
                    }
                }
                if (lastNl < 0) {
                    return offset;
                }
                for (String l : new String(b, 0, lastNl, StandardCharsets.UTF_8).split("\n")) {
                    Matcher m = MAIL_LOG.matcher(l);
                    if (m.matches()) {
                        add(m.group(1));
                    } else if (l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("OutOfMemoryError")) {
                        warnings++;
                        if (warningLines.size() < 5) {
                            warningLines.add(l.length() > 300 ? l.substring(0, 300) + "..." : l);
                        }
                    }
                }
                return offset + lastNl + 1;
            } catch (IOException e) {
                return offset; // not there yet
            }
        }
    }
}
