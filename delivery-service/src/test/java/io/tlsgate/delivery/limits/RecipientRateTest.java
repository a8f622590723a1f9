package io.tlsgate.delivery.limits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The GCRA step of recipientLimit: which messages may go now, and when the next may. */
class RecipientRateTest {

    private static final DestinationLimits SIXTY_A_MINUTE = new DestinationLimits(500, 60, 1, false, true);

    @Test
    void aFreshKeyLetsOneMessageGoAndSpacesTheNext() {
        Instant before = Instant.now();
        RecipientRate.Grant g = RecipientRate.grant(null, List.of(1, 1, 1), SIXTY_A_MINUTE);
        assertEquals(1, g.messages());
        long ms = Duration.between(before, g.next()).toMillis();
        assertTrue(ms >= 1000 && ms < 1100, ms + " ms");
    }

    @Test
    void aMessageTakesOneSpacingPerRecipient() {
        Instant before = Instant.now();
        RecipientRate.Grant g = RecipientRate.grant(before.minusSeconds(10), List.of(5, 1), SIXTY_A_MINUTE);
        assertEquals(1, g.messages());
        long ms = Duration.between(before, g.next()).toMillis();
        assertTrue(ms >= 5000 && ms < 5100, ms + " ms");
    }

    @Test
    void aTurnTakenLateKeepsTheSchedule() {
        Instant due = Instant.now().minusMillis(300);
        RecipientRate.Grant g = RecipientRate.grant(due, List.of(1, 1), SIXTY_A_MINUTE);
        assertEquals(1, g.messages(), "one late turn, no burst");
        assertEquals(due.plusSeconds(1), g.next());
    }

    @Test
    void nothingGoesBeforeItsTime() {
        Instant later = Instant.now().plusSeconds(3);
        RecipientRate.Grant g = RecipientRate.grant(later, List.of(1), SIXTY_A_MINUTE);
        assertEquals(0, g.messages());
        assertEquals(later, g.next());
    }

    @Test
    void zeroRecipientsLetsNothingGo() {
        RecipientRate.Grant g = RecipientRate.grant(null, List.of(1), new DestinationLimits(500, 0, 5, false, true));
        assertEquals(0, g.messages());
        assertTrue(g.next().isAfter(Instant.now().plus(Duration.ofMinutes(4))));
    }
}
