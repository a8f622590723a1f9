package io.tlsgate.listener.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The framer on Netty's EmbeddedChannel: lines, over-long lines, content, pausing, split reads. */
class SmtpFramerTest {

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
            items.add("end:" + content.toString(StandardCharsets.UTF_8));
            content.reset();
            return true;
        }
    }

    private static Recorder run(int maxLine, String... reads) {
        Recorder r = new Recorder();
        SmtpFramer f = new SmtpFramer(maxLine, r);
        r.framer = f;
        EmbeddedChannel ch = new EmbeddedChannel(f);
        for (String s : reads) {
            ch.writeInbound(Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1));
        }
        ch.finishAndReleaseAll();
        return r;
    }

    @Test
    void linesEndAtLfWithOrWithoutCr() {
        assertEquals(List.of("line:EHLO a", "line:NOOP", "line:"), run(64, "EHLO a\r\nNOOP\n\r\n").items);
    }

    @Test
    void linesSplitAcrossReadsAreJoined() {
        assertEquals(List.of("line:MAIL FROM:<a@b>"), run(64, "MA", "IL FROM", ":<a@b>\r", "\n").items);
    }

    @Test
    void aTooLongLineIsDroppedWhileItArrivesAndReportedOnce() {
        String big = "x".repeat(10_000);
        Recorder r = run(100, "NOOP " + big.substring(0, 5000), big.substring(5000) + "\r\nNOOP\r\n");
        assertEquals(List.of("too-long", "line:NOOP"), r.items);
        // exactly at the limit (CRLF included) is fine; one more octet is not
        assertEquals(List.of("line:" + "y".repeat(98)), run(100, "y".repeat(98) + "\r\n").items);
        assertEquals(List.of("too-long"), run(100, "y".repeat(99) + "\r\n").items);
    }

    @Test
    void contentIsUnstuffedAndEndsOnlyAtCrLfDotCrLf() {
        Recorder r = run(64, "DATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nNOOP\r\n");
        assertEquals(List.of("line:DATA", "end:Subject: x\r\n\r\n.dot\r\n", "line:NOOP"), r.items);
        // a bare-LF dot is content, not the end (no "SMTP smuggling")
        r = run(64, "DATA\r\na\n.\nMAIL FROM:<evil@x>\r\nb\r\n.\r\n");
        assertEquals(List.of("line:DATA", "end:a\n.\nMAIL FROM:<evil@x>\r\nb\r\n"), r.items);
        // the terminator split over reads, and an empty message
        r = run(64, "DATA\r\nbody\r", "\n", ".", "\r", "\nQUIT\r\n");
        assertEquals(List.of("line:DATA", "end:body\r\n", "line:QUIT"), r.items);
        assertEquals(List.of("line:DATA", "end:"), run(64, "DATA\r\n.\r\n").items);
        // ".x" at a line start loses its dot; ".\rx" keeps the CR
        assertEquals(List.of("line:DATA", "end:x\r\n\rx\r\n"), run(64, "DATA\r\n.x\r\n.\rx\r\n.\r\n").items);
    }

    @Test
    void contentSurvivesAnySplitOfTheReads() {
        String session = "DATA\r\nSubject: t\r\n\r\n..a\r\nb.\r\n..\r\n...\r\nlast\r\n.\r\nQUIT\r\n";
        List<String> expected = List.of("line:DATA", "end:Subject: t\r\n\r\n.a\r\nb.\r\n.\r\n..\r\nlast\r\n", "line:QUIT");
        Random random = new Random(42);
        for (int round = 0; round < 500; round++) {
            List<String> reads = new ArrayList<>();
            int i = 0;
            while (i < session.length()) {
                int n = 1 + random.nextInt(7);
                reads.add(session.substring(i, Math.min(session.length(), i + n)));
                i += n;
            }
            assertEquals(expected, run(64, reads.toArray(String[]::new)).items, "reads " + reads);
        }
    }

    @Test
    void aPausedFramerHoldsTheRestUntilResumed() {
        Recorder r = new Recorder();
        SmtpFramer f = new SmtpFramer(64, r);
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
}
