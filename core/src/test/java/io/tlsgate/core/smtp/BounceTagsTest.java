package io.tlsgate.core.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

class BounceTagsTest {

    private static final String SECRET = Base64.getEncoder().encodeToString("0123456789abcdef0123".getBytes(StandardCharsets.US_ASCII));
    private static final String OTHER = Base64.getEncoder().encodeToString("another secret of 20b".getBytes(StandardCharsets.US_ASCII));
    private static final LocalDate DAY = LocalDate.of(2026, 12, 3);

    /** The format: prvs=KDDDSSSSSS=sender, DDD the expiry day mod 1000, SSSSSS HMAC-SHA1 of KDDD + address (lower case). */
    @Test
    void tagFormatIsThePrvsScheme() throws Exception {
        BounceTags tags = BounceTags.of(List.of("3:" + SECRET), 7);
        String tagged = tags.tag("Alice@Example.COM", DAY);
        String ddd = String.format("%03d", (DAY.toEpochDay() + 7) % 1000);
        Mac mac = Mac.getInstance("HmacSHA1");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(SECRET), "HmacSHA1"));
        String sig = HexFormat.of().formatHex(mac.doFinal(("3" + ddd + "alice@example.com").getBytes(StandardCharsets.UTF_8)), 0, 3);
        assertEquals("prvs=3" + ddd + sig + "=Alice@Example.COM", tagged);
        assertEquals("", tags.tag("", DAY), "the null sender is never tagged");
        assertEquals("postmaster", tags.tag("postmaster", DAY));
        assertEquals(tagged, tags.tag(tagged, DAY), "a tagged sender is not tagged twice");
    }

    @Test
    void aTagVerifiesUntilItExpiresAndNotAfter() {
        BounceTags tags = BounceTags.of(List.of("1:" + SECRET), 7);
        String tagged = tags.tag("bob@example.org", DAY);
        for (int d = 0; d <= 7; d++) {
            BounceTags.Checked c = tags.check(tagged, DAY.plusDays(d));
            assertEquals(BounceTags.Verdict.VALID, c.verdict(), "day " + d);
            assertEquals("bob@example.org", c.address());
        }
        assertEquals(BounceTags.Verdict.INVALID, tags.check(tagged, DAY.plusDays(8)).verdict());
        assertEquals(BounceTags.Verdict.INVALID, tags.check(tagged, DAY.minusDays(1)).verdict(), "not issued yet");
        assertEquals(BounceTags.Verdict.VALID, tags.check(tagged.toUpperCase(), DAY.plusDays(1)).verdict(),
                "a relay that changes the case does not break it");
    }

    @Test
    void forgedWrongKeyAndUntaggedAddressesAreTold() {
        BounceTags tags = BounceTags.of(List.of("1:" + SECRET), 7);
        String tagged = tags.tag("bob@example.org", DAY);
        String otherAddress = tagged.replace("bob@", "eve@");
        assertEquals(BounceTags.Verdict.INVALID, tags.check(otherAddress, DAY).verdict());
        char last = tagged.charAt(14);
        String flipped = tagged.substring(0, 14) + (last == '0' ? '1' : '0') + tagged.substring(15);
        assertNotEquals(tagged, flipped);
        assertEquals(BounceTags.Verdict.INVALID, tags.check(flipped, DAY).verdict());
        assertEquals(BounceTags.Verdict.INVALID, BounceTags.of(List.of("1:" + OTHER), 7).check(tagged, DAY).verdict(),
                "another key with the same number");
        assertEquals(BounceTags.Verdict.INVALID, BounceTags.of(List.of("2:" + SECRET), 7).check(tagged, DAY).verdict(),
                "a key number we do not hold");
        BounceTags.Checked plain = tags.check("bob@example.org", DAY);
        assertEquals(new BounceTags.Checked(BounceTags.Verdict.UNTAGGED, "bob@example.org"), plain);
        assertTrue(BounceTags.tagged(tagged));
        assertEquals("bob@example.org", BounceTags.untagged(tagged).orElseThrow());
    }

    /** Rotation: a new key goes first and tags; the old one still verifies its tags. */
    @Test
    void anOldKeyStillVerifiesAfterRotation() {
        String old = BounceTags.of(List.of("1:" + SECRET), 7).tag("carol@example.net", DAY);
        BounceTags rotated = BounceTags.of(List.of("2:" + OTHER, "1:" + SECRET), 7);
        assertTrue(rotated.tag("carol@example.net", DAY).startsWith("prvs=2"));
        assertEquals(BounceTags.Verdict.VALID, rotated.check(old, DAY.plusDays(2)).verdict());
    }

    @Test
    void badKeysAreRefusedWithoutShowingTheSecret() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BounceTags.of(List.of("x:" + SECRET), 7));
        assertTrue(e.getMessage().contains("key 1") && !e.getMessage().contains(SECRET), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BounceTags.of(List.of("1:c2hvcnQ="), 7), "too short");
        assertThrows(IllegalArgumentException.class, () -> BounceTags.of(List.of("1:" + SECRET, "1:" + OTHER), 7));
        assertThrows(IllegalArgumentException.class, () -> BounceTags.of(List.of("1:not base64!"), 7));
        assertThrows(IllegalArgumentException.class, () -> BounceTags.of(List.of(), 7));
        assertThrows(IllegalArgumentException.class, () -> BounceTags.of(List.of("1:" + SECRET), 0));
    }
}
