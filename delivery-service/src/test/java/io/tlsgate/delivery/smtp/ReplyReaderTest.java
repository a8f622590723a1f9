package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Reply parsing and accounting without sockets: fragments, bounds, and what counts as a violation. */
class ReplyReaderTest {

    private static final String EHLO = "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";

    @Test
    void repliesAreTheSameHoweverTheBytesAreSplit() {
        String wire = "220 mx.test ESMTP\r\n" + EHLO + "250 2.1.0 Ok\n";
        for (int split = 1; split <= wire.length(); split++) {
            ReplyReader r = new ReplyReader();
            r.expect(3);
            List<String> got = new ArrayList<>();
            byte[] b = wire.getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < b.length; i += split) {
                ReplyReader.Read read = r.feed(b, i, Math.min(split, b.length - i));
                assertNull(read.violation());
                got.addAll(read.replies());
            }
            assertEquals(List.of("220 mx.test ESMTP", EHLO.substring(0, EHLO.length() - 2), "250 2.1.0 Ok"), got,
                    "pieces of " + split);
            assertEquals(0, r.owed());
        }
    }

    @Test
    void plaintextBehindThe220ToStarttlsIsAViolationBeforeThe220IsHandedOut() {
        ReplyReader r = new ReplyReader();
        r.expect(1);
        ReplyReader.Read read = r.feed("220 2.0.0 Ready\r\n250 2.0.0 injected\r\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals(List.of("220 2.0.0 Ready"), read.replies());
        assertTrue(read.violation().getMessage().contains("20 byte(s) received with no reply owed (250 2.0.0 injected\\r\\n)"),
                read.violation().getMessage());
        assertEquals(read.violation(), r.feed("250 more\r\n".getBytes(StandardCharsets.US_ASCII)).violation(),
                "nothing is read after a violation");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "hello\\r\\n | not an SMTP reply line",
        "25\\r\\n | not an SMTP reply line",
        "250x\\r\\n | not an SMTP reply line",
        "199 old\\r\\n | not an SMTP reply line",
        "650 no\\r\\n | not an SMTP reply line",
        "250-a\\r\\n451 b\\r\\n | reply lines with different codes",
    })
    void malformedRepliesAreViolations(String wire, String why) {
        ReplyReader r = new ReplyReader();
        r.expect(1);
        ReplyReader.Read read = r.feed(wire.replace("\\r\\n", "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        assertTrue(read.violation().getMessage().contains(why), read.violation().getMessage());
    }

    @Test
    void anEndlessLineIsCutAtTheBound() {
        ReplyReader r = new ReplyReader();
        r.expect(1);
        byte[] line = ("250 " + "x".repeat(ReplyReader.MAX_LINE)).getBytes(StandardCharsets.US_ASCII);
        assertTrue(r.feed(line).violation().getMessage().contains("reply line longer than 2048 octets"));
    }

    @Test
    void endlessContinuationLinesAreCutAtTheBound() {
        ReplyReader r = new ReplyReader();
        r.expect(1);
        ReplyReader.Read read = null;
        for (int i = 0; i < 10_000 && (read == null || read.violation() == null); i++) {
            read = r.feed("250-still going\r\n".getBytes(StandardCharsets.US_ASCII));
            assertTrue(read.replies().isEmpty());
        }
        assertTrue(read.violation().getMessage().contains("reply of more than 100 lines"), read.violation().getMessage());
    }

    @Test
    void longContinuationLinesAreCutByTheReplySize() {
        ReplyReader r = new ReplyReader();
        r.expect(1);
        String line = "250-" + "y".repeat(2000) + "\r\n";
        ReplyReader.Read read = null;
        for (int i = 0; i < 50 && (read == null || read.violation() == null); i++) {
            read = r.feed(line.getBytes(StandardCharsets.US_ASCII));
        }
        assertTrue(read.violation().getMessage().contains("reply longer than 32768 octets"), read.violation().getMessage());
    }
}
