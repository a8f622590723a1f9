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

    @Test
    void overlongLabelIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> DomainName.normalise("a".repeat(64) + ".com"));
    }
}
