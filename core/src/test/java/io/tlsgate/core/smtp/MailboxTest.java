package io.tlsgate.core.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class MailboxTest {

    @ParameterizedTest
    @ValueSource(strings = {"a@example.com", "first.last+tag@sub.example.co", "\"quoted local\"@example.com",
        "\"esc\\\"aped\"@example.com", "user@[192.0.2.1]", "user@[IPv6:2001:db8::1]", "o'brien@example.com",
        "x@a-b.c", "!#$%&'*+-/=?^_`{|}~@example.com"})
    void mailboxesAsRfc5321WritesThem(String address) {
        assertNull(Mailbox.problem(address), address);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "a@example.com\\r\\nRCPT TO:<b@evil.test> | control character in the address",
        "a\\n@example.com | control character in the address",
        "a@exam\\u0000ple.com | control character in the address",
        "j\\u00f6rg@example.com | non-ASCII address (SMTPUTF8 is not supported)",
        "a@b\\u00fccher.example | non-ASCII address (SMTPUTF8 is not supported)",
        "noat | not local-part@domain",
        "@example.com | not local-part@domain",
        "a@ | not local-part@domain",
        ".a@example.com | bad local part",
        "a..b@example.com | bad local part",
        "a b@example.com | bad local part",
        "a(b)@example.com | bad local part",
        "\"open@example.com | bad quoted local part",
        "a@-x.example | bad domain",
        "a@x..example | bad domain",
        "a@x_y.example | bad domain",
        "a@[192.0.2.1 | bad address literal",
        "a@[] | bad address literal",
    })
    void notMailboxes(String address, String problem) {
        String a = address.replace("\\r", "\r").replace("\\n", "\n").replace("\\u0000", "\u0000")
                .replace("\\u00f6", "\u00f6").replace("\\u00fc", "\u00fc");
        assertEquals(problem, Mailbox.problem(a), a);
    }

    @org.junit.jupiter.api.Test
    void lengthsOfRfc5321() {
        assertNull(Mailbox.problem("l".repeat(64) + "@example.com"));
        assertEquals("local part longer than 64 octets", Mailbox.problem("l".repeat(65) + "@example.com"));
        assertEquals("bad domain", Mailbox.problem("a@" + "d".repeat(64) + ".example"));
        String longDomain = ("d".repeat(62) + ".").repeat(4) + "example"; // 259 octets
        assertEquals("address longer than 256 octets", Mailbox.problem("a@" + longDomain));
    }
}
