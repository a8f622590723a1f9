package io.tlsgate.listener.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** MAIL/RCPT argument parsing: what real clients send is accepted, malformed input is refused with the right kind of reply. */
class SmtpCommandTest {

    @Test
    void pathsAndParameters() throws Exception {
        var p = SmtpCommand.parse("FROM:<a@example.com> SIZE=100 BODY=8BITMIME SMTPUTF8", "FROM:", true);
        assertEquals("a@example.com", p.address());
        assertEquals("example.com", p.domain());
        assertEquals("100", p.params().get("SIZE"));
        assertTrue(p.params().containsKey("SMTPUTF8"));
        assertEquals(null, p.params().get("SMTPUTF8"));
        assertEquals("", SmtpCommand.parse("FROM:<>", "FROM:", true).address());
        assertEquals("b@x.test", SmtpCommand.parse("to: <b@x.test>", "TO:", false).address(), "a space after the colon");
        assertEquals("c@d.test", SmtpCommand.parse("TO:<@relay.test,@r2.test:c@d.test>", "TO:", false).address(), "source route dropped");
        assertEquals("\"a b\"@x.test", SmtpCommand.parse("TO:<\"a b\"@x.test>", "TO:", false).address());
        assertEquals("\"a>b\"@x.test", SmtpCommand.parse("TO:<\"a>b\"@x.test>", "TO:", false).address());
        assertEquals("u@[192.0.2.1]", SmtpCommand.parse("TO:<u@[192.0.2.1]>", "TO:", false).address());
        assertEquals("用户@例子.测试", SmtpCommand.parse("TO:<用户@例子.测试>", "TO:", false).address(), "RFC 6531");
        assertEquals(Map.of(), SmtpCommand.parse("TO:<b@x.test>   ", "TO:", false).params());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "a@example.com|true",
        "FROM a@example.com|true",
        "FROM:a@example.com|true",
        "FROM:<a@example.com|true",
        "FROM:<a@example.com>x|true",
        "FROM:<a@example.com> =1|true",
        "FROM:<a@example.com> SIZE=1 SIZE=2|true",
        "FROM:<a@@example.com>|false",
        "FROM:<a@example..com>|false",
        "FROM:<a@-example.com>|false",
        "FROM:<@example.com>|false",
        "FROM:<a@>|false",
        "FROM:<a>|false",
        "FROM:<.a@example.com>|false",
        "FROM:<a b@example.com>|false",
        "FROM:<a@exam_ple.com>|false",
        "FROM:<a@[192.0.2.1>|false",
        "FROM:<a@example.com.>|false",
    })
    void malformed(String arg, boolean syntax) {
        SmtpCommand.Invalid e = assertThrows(SmtpCommand.Invalid.class, () -> SmtpCommand.parse(arg, "FROM:", true));
        assertEquals(syntax, e.syntax(), e.getMessage());
    }

    @Test
    void limitsOfRfc5321() {
        String local64 = "l".repeat(64);
        String label63 = "d".repeat(63);
        String ok = local64 + "@" + label63 + ".test";
        assertEquals(ok, assertDoesNotThrow(ok));
        assertFalse(invalid("l".repeat(65) + "@x.test") == null, "local part of 65");
        assertFalse(invalid("a@" + "d".repeat(64) + ".test") == null, "label of 64");
        assertFalse(invalid("a@" + (label63 + ".").repeat(4) + "test") == null, "domain over 255 / path over 256");
        assertFalse(invalid("a\u0001b@x.test") == null, "control character");
        assertThrows(SmtpCommand.Invalid.class, () -> SmtpCommand.parse("TO:<>", "TO:", false), "no null recipient");
    }

    private static String assertDoesNotThrow(String address) {
        try {
            return SmtpCommand.parse("FROM:<" + address + ">", "FROM:", true).address();
        } catch (SmtpCommand.Invalid e) {
            throw new AssertionError(address + ": " + e.getMessage());
        }
    }

    private static SmtpCommand.Invalid invalid(String address) {
        try {
            SmtpCommand.parse("FROM:<" + address + ">", "FROM:", true);
            return null;
        } catch (SmtpCommand.Invalid e) {
            return e;
        }
    }
}
