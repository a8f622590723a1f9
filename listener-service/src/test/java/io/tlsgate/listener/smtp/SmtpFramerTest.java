package io.tlsgate.listener.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tlsgate.listener.ListenerConfig.BareNewline;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The framer on Netty's EmbeddedChannel: lines, over-long lines, content, pausing, split reads,
 * and bare LF / bare CR under both settings of {@code tlsgate.listener.bare-newline}.
 */
class SmtpFramerTest {

    private static final BareNewline REJECT = BareNewline.REJECT;
    private static final BareNewline NORMALIZE = BareNewline.NORMALIZE;

    /** The "SMTP smuggling" end-of-data look-alikes: what comes before and after the dot. */
    private static final String[][] SMUGGLING = {
        {"\n", "\n"}, // <LF>.<LF>
        {"\r", "\r"}, // <CR>.<CR>
        {"\n", "\r\n"}, // <LF>.<CR><LF>
        {"\r\n", "\n"}, // <CR><LF>.<LF>
        {"\r", "\r\n"}, // <CR>.<CR><LF>
    };

    /** Records what the framer hands over; "DATA" lines switch to content, "WAIT" lines pause. */
    private static final class Recorder implements SmtpFramer.Sink {
        final List<String> items = new ArrayList<>();
        final ByteArrayOutputStream content = new ByteArrayOutputStream();
        SmtpFramer framer;

        @Override
        public boolean line(String line) {
            items.add("line:" + line);
            if (line.equals("DATA")) {
                framer.dataMode();
            }
            return !line.equals("WAIT");
        }

        @Override
        public boolean lineTooLong() {
            items.add("too-long");
            return true;
        }

        @Override
        public boolean data(ByteBuf b) {
            byte[] bytes = new byte[b.readableBytes()];
            b.readBytes(bytes);
            b.release();
            content.writeBytes(bytes);
            return true;
        }

        @Override
        public boolean endOfData() {
            items.add("end:" + content.toString(StandardCharsets.ISO_8859_1));
            content.reset();
            return true;
        }

        @Override
        public void bareNewline(boolean lf, boolean inData) {
            items.add("bare " + (lf ? "LF" : "CR") + " in " + (inData ? "data" : "command"));
        }
    }

    private static Recorder run(int maxLine, String... reads) {
        return run(maxLine, REJECT, reads);
    }

    private static Recorder run(int maxLine, BareNewline mode, String... reads) {
        Recorder r = new Recorder();
        SmtpFramer f = new SmtpFramer(maxLine, mode, r);
        r.framer = f;
        EmbeddedChannel ch = new EmbeddedChannel(f);
        for (String s : reads) {
            ch.writeInbound(Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1));
        }
        ch.finishAndReleaseAll();
        return r;
    }

    /** Every way of cutting {@code s} into two reads, plus 300 random cuts into reads of 1 to 7 octets. */
    private static List<String[]> splits(String s) {
        List<String[]> out = new ArrayList<>();
        out.add(new String[] {s});
        for (int i = 1; i < s.length(); i++) {
            out.add(new String[] {s.substring(0, i), s.substring(i)});
        }
        Random random = new Random(s.hashCode());
        for (int round = 0; round < 300; round++) {
            List<String> reads = new ArrayList<>();
            for (int i = 0; i < s.length();) {
                int n = 1 + random.nextInt(7);
                reads.add(s.substring(i, Math.min(s.length(), i + n)));
                i += n;
            }
            out.add(reads.toArray(String[]::new));
        }
        return out;
    }

    private static String smuggling(String[] v) {
        String before = v[0];
        String after = v[1];
        return "Subject: smuggled\r\n\r\nhello" + before + "." + after + "MAIL FROM:<ceo@bank.example>" + after
                + "RCPT TO:<victim@bank.example>" + after + "DATA" + after + "Subject: pay now" + after + after + "transfer"
                + before + "." + after;
    }

    // ---- CRLF input: the same under both settings

    @Test
    void linesEndAtCrLf() {
        for (BareNewline mode : BareNewline.values()) {
            assertEquals(List.of("line:EHLO a", "line:NOOP", "line:"), run(64, mode, "EHLO a\r\nNOOP\r\n\r\n").items);
        }
    }

    @Test
    void linesSplitAcrossReadsAreJoined() {
        for (BareNewline mode : BareNewline.values()) {
            assertEquals(List.of("line:MAIL FROM:<a@b>"), run(64, mode, "MA", "IL FROM", ":<a@b>\r", "\n").items);
            // a CR at the end of a read waits for the next byte
            assertEquals(List.of("line:NOOP", "line:QUIT"), run(64, mode, "NOOP\r", "\nQUIT\r", "\n").items);
        }
    }

    @Test
    void aTooLongLineIsDroppedWhileItArrivesAndReportedOnce() {
        String big = "x".repeat(10_000);
        Recorder r = run(100, "NOOP " + big.substring(0, 5000), big.substring(5000) + "\r\nNOOP\r\n");
        assertEquals(List.of("too-long", "line:NOOP"), r.items);
        // exactly at the limit (CRLF included) is fine; one more octet is not
        assertEquals(List.of("line:" + "y".repeat(98)), run(100, "y".repeat(98) + "\r\n").items);
        assertEquals(List.of("too-long"), run(100, "y".repeat(99) + "\r\n").items);
        assertEquals(List.of("too-long", "line:NOOP"), run(100, "y".repeat(99) + "\r", "\nNOOP\r\n").items);
        assertEquals(List.of("too-long", "line:NOOP"), run(100, "y".repeat(200) + "\r", "\nNOOP\r\n").items);
    }

    @Test
    void contentIsUnstuffedAndEndsOnlyAtCrLfDotCrLf() {
        for (BareNewline mode : BareNewline.values()) {
            Recorder r = run(64, mode, "DATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nNOOP\r\n");
            assertEquals(List.of("line:DATA", "end:Subject: x\r\n\r\n.dot\r\n", "line:NOOP"), r.items);
            // the terminator split over reads, and an empty message
            r = run(64, mode, "DATA\r\nbody\r", "\n", ".", "\r", "\nQUIT\r\n");
            assertEquals(List.of("line:DATA", "end:body\r\n", "line:QUIT"), r.items);
            assertEquals(List.of("line:DATA", "end:"), run(64, mode, "DATA\r\n.\r\n").items);
            assertEquals(List.of("line:DATA", "end:x\r\n"), run(64, mode, "DATA\r\n.x\r\n.\r\n").items);
        }
    }

    @Test
    void contentSurvivesAnySplitOfTheReads() {
        String session = "DATA\r\nSubject: t\r\n\r\n..a\r\nb.\r\n..\r\n...\r\nlast\r\n.\r\nQUIT\r\n";
        List<String> expected = List.of("line:DATA", "end:Subject: t\r\n\r\n.a\r\nb.\r\n.\r\n..\r\nlast\r\n", "line:QUIT");
        for (BareNewline mode : BareNewline.values()) {
            for (String[] reads : splits(session)) {
                assertEquals(expected, run(64, mode, reads).items, mode + " reads " + List.of(reads));
            }
        }
    }

    @Test
    void aPausedFramerHoldsTheRestUntilResumed() {
        Recorder r = new Recorder();
        SmtpFramer f = new SmtpFramer(64, REJECT, r);
        r.framer = f;
        EmbeddedChannel ch = new EmbeddedChannel(f);
        ch.writeInbound(Unpooled.copiedBuffer("WAIT\r\nNOOP\r\nQUIT\r\n", StandardCharsets.US_ASCII));
        assertEquals(List.of("line:WAIT"), r.items);
        assertEquals(12, f.buffered(), "the pipelined commands wait in the buffer");
        assertTrue(!ch.config().isAutoRead(), "no reading from the socket while paused");
        f.resume();
        assertEquals(List.of("line:WAIT", "line:NOOP", "line:QUIT"), r.items);
        assertTrue(ch.config().isAutoRead());
        ch.finishAndReleaseAll();
    }

    // ---- reject (the default)

    @Test
    void rejectABareLfOrCrInACommandAndFrameNothingMore() {
        assertEquals(List.of("line:NOOP", "bare LF in command"), run(64, "NOOP\r\nMAIL FROM:<a@b>\nNOOP\r\n").items,
                "the command before the bare LF is not run, nor anything after it");
        assertEquals(List.of("bare CR in command"), run(64, "NOOP\rNOOP\r\n").items);
        assertEquals(List.of("bare LF in command"), run(64, "\n").items);
        assertEquals(List.of("bare CR in command"), run(64, "\r\r\n").items);
        // fragmented: the CR at the end of one read, what follows it in the next
        assertEquals(List.of(), run(64, "NOOP\r").items, "a CR at the end of a read is not judged yet");
        assertEquals(List.of("bare CR in command"), run(64, "NOOP\r", "NOOP\r\n").items);
        assertEquals(List.of("line:NOOP", "bare LF in command"), run(64, "NOOP\r", "\n", "QUIT\n").items);
        assertEquals(List.of("bare LF in command"), run(64, "NO", "OP", "\n", "QUIT\r\n").items);
        // inside a line too long to keep, too
        assertEquals(List.of("bare LF in command"), run(100, "y".repeat(150), "\nNOOP\r\n").items);
        assertEquals(List.of("bare CR in command"), run(100, "y".repeat(150) + "\r", "NOOP\r\n").items);
    }

    @Test
    void rejectABareLfOrCrInContentWithoutEverEndingTheMessage() {
        assertEquals(List.of("line:DATA", "bare LF in data"), run(64, "DATA\r\nhello\nworld\r\n.\r\nQUIT\r\n").items);
        assertEquals(List.of("line:DATA", "bare CR in data"), run(64, "DATA\r\nhello\rworld\r\n.\r\nQUIT\r\n").items);
        assertEquals(List.of("line:DATA", "bare LF in data"), run(64, "DATA\r\n\n.\r\n").items, "at the very start");
        assertEquals(List.of("line:DATA", "bare CR in data"), run(64, "DATA\r\n.\rx\r\n.\r\n").items, "after a leading dot");
        assertEquals(List.of("line:DATA", "bare CR in data"), run(64, "DATA\r\nbody\r", "x").items, "CR at the end of a read");
        assertEquals(List.of("line:DATA", "bare CR in data"), run(64, "DATA\r\nbody\r\n.\r", ".").items);
        // the smuggling look-alikes, however the reads fall, and whatever is pipelined after them
        for (String[] v : SMUGGLING) {
            String session = "DATA\r\n" + smuggling(v) + "\r\n.\r\nMAIL FROM:<next@origin.example>\r\nQUIT\r\n";
            String expected = "bare " + (v[0].equals("\n") || v[0].equals("\r\n") && v[1].equals("\n") ? "LF" : "CR") + " in data";
            for (String[] reads : splits(session)) {
                assertEquals(List.of("line:DATA", expected), run(64, REJECT, reads).items, "reads " + List.of(reads));
            }
        }
    }

    // ---- normalize

    @Test
    void normalizeBareLfAndCrInCommandsToLineEnds() {
        Recorder r = run(64, NORMALIZE, "EHLO a\nNOOP\rRSET\r\nMAIL FROM:<a@b>\r\rQUIT\n");
        assertEquals(List.of("line:EHLO a", "line:NOOP", "line:RSET", "line:MAIL FROM:<a@b>", "line:", "line:QUIT"), r.items);
        assertEquals(2, r.framer.commandBareLf());
        assertEquals(3, r.framer.commandBareCr());
        // fragmented: CR and LF in different reads, a CR at the end of a read followed by text
        assertEquals(List.of("line:NOOP", "line:QUIT"), run(64, NORMALIZE, "NOOP\r", "\n", "QUIT\n").items);
        assertEquals(List.of("line:NOOP", "line:NOOP"), run(64, NORMALIZE, "NOOP\r", "NOOP\r", "\n").items);
        assertEquals(List.of(), run(64, NORMALIZE, "NOOP\r").items, "a CR at the end of a read is not judged yet");
        // a bare newline ends an over-long line too
        assertEquals(List.of("too-long", "line:NOOP"), run(100, NORMALIZE, "y".repeat(150), "\nNOOP\n").items);
        assertEquals(List.of("too-long", "line:NOOP"), run(100, NORMALIZE, "y".repeat(150) + "\r", "NOOP\r\n").items);
        assertEquals(List.of("line:" + "y".repeat(98), "line:NOOP"), run(100, NORMALIZE, "y".repeat(98) + "\nNOOP\r\n").items);
    }

    @Test
    void normalizeContentToCrLfButEndOnlyAtCrLfDotCrLf() {
        Recorder r = run(64, NORMALIZE, "DATA\r\na\nb\rc\r\n.\r\nNOOP\r\n");
        assertEquals(List.of("line:DATA", "end:a\r\nb\r\nc\r\n", "line:NOOP"), r.items);
        assertEquals(1, r.framer.dataBareLf());
        assertEquals(1, r.framer.dataBareCr());
        // a lone dot ended by a bare LF/CR, or after one, is content with its dot, never the end
        assertEquals(List.of("line:DATA", "end:.\r\n.\r\n"), run(64, NORMALIZE, "DATA\r\n.\n.\r\n.\r\n").items);
        assertEquals(List.of("line:DATA", "end:a\r\n.\r\nb\r\n"), run(64, NORMALIZE, "DATA\r\na\r\n.\rb\r\n.\r\n").items);
        assertEquals(List.of("line:DATA", "end:a\r\n.\r\nb\r\n"), run(64, NORMALIZE, "DATA\r\na\n.\r\nb\r\n.\r\n").items);
        assertEquals(List.of("line:DATA", "end:a\r\n.\r\n\r\n"), run(64, NORMALIZE, "DATA\r\na\r.\r\r\n.\r\n").items);
        // a stuffed line after a bare newline is unstuffed like any other
        assertEquals(List.of("line:DATA", "end:a\r\n.b\r\n"), run(64, NORMALIZE, "DATA\r\na\n..b\r\n.\r\n").items);
        // fragmented: a CR at the end of a read, the dot and its CR in other reads
        assertEquals(List.of("line:DATA", "end:x\r\n.\r\ny\r\n"), run(64, NORMALIZE, "DATA\r\nx\r\n.", "\r", "y\r\n.\r\n").items);
        assertEquals(List.of("line:DATA", "end:x\r\n.\r\n"), run(64, NORMALIZE, "DATA\r\nx\r", ".\r\n", ".\r\n").items);
        assertEquals(List.of("line:DATA"), run(64, NORMALIZE, "DATA\r\nx\n.\n").items, "<LF>.<LF> does not end it");
    }

    @Test
    void normalizeKeepsSmugglingLookAlikesAsContentOfTheOneMessage() {
        for (String[] v : SMUGGLING) {
            String content = smuggling(v);
            // every bare LF/CR becomes CRLF and every dot stays; the real end adds no line of its own
            String expected = content.replaceAll("\r\n|\r|\n", "\r\n") + "\r\n";
            int bare = content.replace("\r\n", "").replaceAll("[^\r\n]", "").length();
            for (String pipelined : List.of("", "MAIL FROM:<next@origin.example>\r\nQUIT\r\n")) {
                String session = "DATA\r\n" + content + "\r\n.\r\n" + pipelined;
                List<String> items = new ArrayList<>(List.of("line:DATA", "end:" + expected));
                if (!pipelined.isEmpty()) {
                    items.addAll(List.of("line:MAIL FROM:<next@origin.example>", "line:QUIT"));
                }
                for (String[] reads : splits(session)) {
                    Recorder r = run(64, NORMALIZE, reads);
                    assertEquals(items, r.items, "reads " + List.of(reads));
                    assertEquals(bare, r.framer.dataBareLf() + r.framer.dataBareCr(), "reads " + List.of(reads));
                }
            }
        }
    }

    /**
     * Random content of dots, CRs, LFs and letters: whatever the reads, the content handed on
     * has CRLF line ends only, so that a dot-stuffer like delivery-service's (which stuffs after
     * CRLF) stuffs every line starting with a dot, and a lenient server downstream (one that
     * takes a bare LF or CR as a line end) finds no end of data in it but the real one.
     */
    @Test
    void normalizedContentIsSafeForALenientServerDownstream() {
        Random random = new Random(7);
        char[] alphabet = {'.', '.', '\r', '\n', 'a'};
        for (int round = 0; round < 3000; round++) {
            StringBuilder b = new StringBuilder();
            for (int i = 0, n = random.nextInt(30); i < n; i++) {
                b.append(alphabet[random.nextInt(alphabet.length)]);
            }
            String session = "DATA\r\n" + b + "\r\n\r\n.\r\n";
            String content = null;
            for (String[] reads : List.of(new String[] {session}, chunks(session, 3), chunks(session, 1))) {
                Recorder r = run(64, NORMALIZE, reads);
                String end = r.items.stream().filter(i -> i.startsWith("end:")).findFirst().orElseThrow();
                String got = end.substring(4);
                if (content == null) {
                    content = got;
                }
                assertEquals(content, got, "the same whatever the reads: " + List.of(reads));
                String lines = got.replace("\r\n", "");
                assertFalse(lines.contains("\r") || lines.contains("\n"), "bare line end in " + escape(got) + " from "
                        + escape(session));
                List<String> downstream = lenientLines(stuff(got));
                assertEquals(downstream.size() - 1, downstream.indexOf("."), "a lenient server sees one end, the real one: "
                        + escape(got));
            }
        }
    }

    private static String[] chunks(String s, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < s.length(); i += n) {
            out.add(s.substring(i, Math.min(s.length(), i + n)));
        }
        return out.toArray(String[]::new);
    }

    /** Dot-stuffing as delivery-service sends a message (a dot at the start of a line after CRLF is doubled), with the end. */
    private static String stuff(String content) {
        StringBuilder out = new StringBuilder();
        boolean lineStart = true;
        for (int i = 0; i < content.length(); i++) {
            char c = content.charAt(i);
            if (lineStart && c == '.') {
                out.append('.');
            }
            out.append(c);
            lineStart = c == '\n' && i > 0 && content.charAt(i - 1) == '\r';
        }
        if (!content.isEmpty() && !lineStart) {
            out.append("\r\n");
        }
        return out.append(".\r\n").toString();
    }

    /** Lines as a lenient server reads them: CRLF, a bare LF and a bare CR all end one. */
    private static List<String> lenientLines(String wire) {
        List<String> out = new ArrayList<>();
        try (var r = new java.io.BufferedReader(new java.io.StringReader(wire))) {
            for (String l; (l = r.readLine()) != null;) {
                out.add(l);
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    private static String escape(String s) {
        return s.replace("\r", "<CR>").replace("\n", "<LF>");
    }
}
