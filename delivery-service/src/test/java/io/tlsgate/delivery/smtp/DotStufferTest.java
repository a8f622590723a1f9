package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The content writer against SMTP smuggling: whatever bytes are stored, a server that ends
 * lines only at CRLF and one that also takes a bare LF or a bare CR as a line end (as lenient
 * MTAs do) both read exactly one message, ending where the writer ended it, with the same
 * content.
 */
class DotStufferTest {

    /** How a server splits the stream into lines. */
    enum LineEnds { CRLF_ONLY, ANY }

    @ParameterizedTest
    @ValueSource(strings = {
        "hello\n.\nMAIL FROM:<ceo@bank.example>\nRCPT TO:<victim@x.test>\nDATA\nsmuggled\n.\n",
        "hello\r.\rMAIL FROM:<ceo@bank.example>\rRCPT TO:<victim@x.test>\rDATA\rsmuggled\r.\r",
        "hello\n.\r\nMAIL FROM:<ceo@bank.example>\r\nDATA\r\nsmuggled\n.\r\n",
        "hello\r\n.\nMAIL FROM:<ceo@bank.example>\nDATA\nsmuggled\r\n.\n",
        "hello\r.\r\nMAIL FROM:<ceo@bank.example>\r\nDATA\r\nsmuggled\r.\r\n",
    })
    void theSmugglingVariantsReachEveryServerAsOneMessage(String content) {
        byte[] wire = wire(content.getBytes(StandardCharsets.ISO_8859_1));
        for (LineEnds ends : LineEnds.values()) {
            List<byte[]> messages = messages(wire, ends);
            assertEquals(1, messages.size(), ends + " server: " + printable(wire));
            assertEquals(normalized(content), new String(messages.get(0), StandardCharsets.ISO_8859_1), ends.name());
        }
    }

    @Test
    void randomBytesAlwaysMakeExactlyOneMessage() {
        long seed = Long.getLong("tlsgate.test.seed", System.nanoTime());
        Random r = new Random(seed);
        byte[] alphabet = {'\r', '\n', '.', 'a', ' ', 0, (byte) 0xff};
        for (int run = 0; run < 3_000; run++) {
            int length = run % 100 == 0 ? 65_536 + r.nextInt(70_000) : r.nextInt(64);
            byte[] content = new byte[length];
            for (int i = 0; i < length; i++) {
                content[i] = alphabet[r.nextInt(alphabet.length)];
            }
            byte[] wire = wire(content);
            for (LineEnds ends : LineEnds.values()) {
                List<byte[]> messages = messages(wire, ends);
                assertEquals(1, messages.size(), "seed " + seed + " run " + run + ", " + ends + " server, content "
                        + printable(content));
                assertArrayEquals(normalized(new String(content, StandardCharsets.ISO_8859_1))
                        .getBytes(StandardCharsets.ISO_8859_1), messages.get(0), "seed " + seed + " run " + run);
            }
        }
    }

    @Test
    void aCrLfSplitAcrossTwoPiecesIsOneLineEnd() {
        byte[] content = new byte[65_537];
        Arrays.fill(content, (byte) 'a');
        content[65_535] = '\r';
        content[65_536] = '\n';
        DotStuffer d = new DotStuffer(content);
        Buffer first = d.next();
        Buffer second = d.next();
        assertEquals(65_537, first.length(), "the CR ends the first piece, already written as CRLF");
        assertEquals("a\r\n", first.getString(65_534, 65_537, "ISO-8859-1"));
        assertEquals(".\r\n", second.toString(StandardCharsets.ISO_8859_1), "the LF after it adds nothing");
    }

    @Test
    void everyLineStartGetsItsDotDoubledAndTheEndIsAdded() {
        assertEquals("..a\r\n..\r\n..b\r\nc\r\n.\r\n", new String(wire(".a\n.\r.b\r\nc".getBytes(StandardCharsets.US_ASCII)),
                StandardCharsets.US_ASCII));
        assertEquals(".\r\n", new String(wire(new byte[0]), StandardCharsets.US_ASCII));
    }

    private static byte[] wire(byte[] content) {
        DotStuffer d = new DotStuffer(content);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Buffer b;
        while ((b = d.next()) != null) {
            out.writeBytes(b.getBytes());
        }
        return out.toByteArray();
    }

    /** What the writer promises to deliver: each line end as CRLF, and a CRLF at the end of a last line that had none. */
    private static String normalized(String content) {
        String s = content.replace("\r\n", "\n").replace('\r', '\n').replace("\n", "\r\n");
        return s.isEmpty() || s.endsWith("\r\n") ? s : s + "\r\n";
    }

    /**
     * The messages a server reads from the stream after a 354: lines split its way, a line of
     * one dot ends a message, a leading dot is removed; whatever follows the first end is read
     * as further messages (what smuggling would make of it).
     */
    private static List<byte[]> messages(byte[] wire, LineEnds ends) {
        List<byte[]> messages = new ArrayList<>();
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        boolean open = false;
        for (int i = 0; i < wire.length; i++) {
            byte c = wire[i];
            boolean end;
            if (ends == LineEnds.CRLF_ONLY) {
                end = c == '\n' && line.size() > 0 && line.toByteArray()[line.size() - 1] == '\r';
                if (!end) {
                    line.write(c);
                    continue;
                }
                byte[] l = line.toByteArray();
                line.reset();
                line.write(l, 0, l.length - 1);
            } else {
                if (c == '\n' && i > 0 && wire[i - 1] == '\r') {
                    continue; // the LF of a CRLF whose CR already ended the line
                }
                end = c == '\r' || c == '\n';
                if (!end) {
                    line.write(c);
                    continue;
                }
            }
            byte[] l = line.toByteArray();
            line.reset();
            open = true;
            if (l.length == 1 && l[0] == '.') {
                messages.add(message.toByteArray());
                message.reset();
                open = false;
                continue;
            }
            int from = l.length > 0 && l[0] == '.' ? 1 : 0;
            message.write(l, from, l.length - from);
            message.write('\r');
            message.write('\n');
        }
        if (open || line.size() > 0) {
            messages.add(null); // an unterminated message: the server would still be waiting
        }
        assertTrue(messages.stream().allMatch(m -> m != null), "the stream must end with the final dot: " + printable(wire));
        return messages;
    }

    private static String printable(byte[] b) {
        return ReplyReader.printable(new String(b, 0, Math.min(b.length, 200), StandardCharsets.ISO_8859_1));
    }
}
