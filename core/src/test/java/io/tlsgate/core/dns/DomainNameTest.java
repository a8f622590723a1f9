package io.tlsgate.core.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DomainNameTest {

    @Test
    void caseTrailingDotAndUnicodeAreNormalisedToLowerCaseALabels() {
        assertEquals("example.com", DomainName.normalise("Example.COM."));
        assertEquals("xn--bcher-kva.example", DomainName.normalise("Bücher.example"));
        assertEquals("mx1.example.org", DomainName.normalise(" mx1.example.org "));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "a..b", ".example.com", "exa mple.com", "under_score.com", "-lead.example"})
    void malformedNamesAreRefused(String bad) {
        assertThrows(IllegalArgumentException.class, () -> DomainName.normalise(bad));
    }

    @ParameterizedTest
    @ValueSource(strings = {"MX-1.Example.COM", "a-b.c-d.example", "xn--bcher-kva.example", "123.example", "x.y"})
    void asciiNamesNormaliseAsIdnWould(String name) {
        assertEquals(java.net.IDN.toASCII(name, java.net.IDN.USE_STD3_ASCII_RULES).toLowerCase(java.util.Locale.ROOT),
                DomainName.normalise(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"a-.example", "x.-a.example", "-", "a.b-"})
    void hyphenAtALabelEdgeIsRefused(String bad) {
        assertThrows(IllegalArgumentException.class, () -> DomainName.normalise(bad));
    }

    @Test
    void overlongLabelIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> DomainName.normalise("a".repeat(64) + ".com"));
    }
}
