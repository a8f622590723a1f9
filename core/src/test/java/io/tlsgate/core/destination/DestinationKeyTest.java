package io.tlsgate.core.destination;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DestinationKeyTest {

    @ParameterizedTest(name = "{0} -> {1} {2}")
    @CsvSource({
        "default, default, DEFAULT",
        "DEFAULT, default, DEFAULT",
        "Example.COM., example.com, DOMAIN",
        ".Example.com, .example.com, SUFFIX",
        "Bücher.example, xn--bcher-kva.example, DOMAIN",
        ".bücher.example., .xn--bcher-kva.example, SUFFIX",
        "192.0.2.10, 192.0.2.10, ADDRESS",
        "[192.0.2.10], 192.0.2.10, ADDRESS",
        "192.0.2.10/32, 192.0.2.10, ADDRESS",
        "192.0.2.0/24, 192.0.2.0/24, CIDR",
        "0.0.0.0/0, 0.0.0.0/0, CIDR",
        "2001:DB8::/32, 2001:db8::/32, CIDR",
        "2001:db8:0:0:0:0:0:1, 2001:db8::1, ADDRESS",
        "[2001:db8::1], 2001:db8::1, ADDRESS",
        "2001:0:0:1:0:0:0:1, 2001:0:0:1::1, ADDRESS",
        "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1, ADDRESS",
        "::ffff:192.0.2.1, 192.0.2.1, ADDRESS",
    })
    void keysAreNormalised(String raw, String text, DestinationKey.Kind kind) {
        DestinationKey k = DestinationKey.parse(raw);
        assertEquals(text, k.text());
        assertEquals(kind, k.kind());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "192.0.2.0/33", "192.0.2.1/24", "2001:db8::1/32", "192.0.2", "256.1.1.1",
        "01.2.3.4", "192.0.2.0/", "192.0.2.0/x", "[example.com]", "exa mple.com", "..example.com", "a..b",
        "2001:db8::/129", "1.2.3.4.5", "-bad.example"})
    void malformedKeysAreRefusedWithAReason(String raw) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DestinationKey.parse(raw));
        assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
    }

    @ParameterizedTest
    @ValueSource(strings = {"192.0.2.1/24"})
    void hostBitsSetNamesTheNetwork(String raw) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DestinationKey.parse(raw));
        assertTrue(e.getMessage().contains("192.0.2.0/24"), e.getMessage());
    }
}
