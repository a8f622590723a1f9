package io.tlsgate.delivery.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Alerts per domain and reason: the first at once, the rest of the window as one counted follow-up. */
class AlertCoalescerTest {

    private static final Instant T0 = Instant.parse("2026-11-25T10:00:00Z");

    @Test
    void aBrokenPeerDoesNotFloodThePager() {
        AlertCoalescer c = new AlertCoalescer(Duration.ofMinutes(15));
        List<AlertCoalescer.Alert> first = c.record("example.com", "starttls-not-supported", T0);
        assertEquals(1, first.size());
        assertEquals(1, first.get(0).count());
        for (int i = 1; i <= 99; i++) {
            assertTrue(c.record("example.com", "starttls-not-supported", T0.plusSeconds(i * 5)).isEmpty());
        }
        // Another reason or another domain is its own window.
        assertEquals(1, c.record("example.com", "certificate-expired", T0.plusSeconds(60)).size());
        assertEquals(1, c.record("example.org", "starttls-not-supported", T0.plusSeconds(60)).size());
        assertTrue(c.flush(T0.plus(Duration.ofMinutes(14))).isEmpty(), "the window is still open");
        List<AlertCoalescer.Alert> later = c.flush(T0.plus(Duration.ofMinutes(15)));
        assertEquals(1, later.size(), "only the window with failures held back: " + later);
        assertEquals(99, later.get(0).count());
        assertTrue(later.get(0).followUp());
        assertEquals(T0.plusSeconds(495), later.get(0).until());
        assertEquals(1, c.record("example.com", "starttls-not-supported", T0.plus(Duration.ofMinutes(16))).size(),
                "a new window starts with an immediate alert");
    }

    @Test
    void anUnflushedWindowIsReportedWhenTheNextOneStarts() {
        AlertCoalescer c = new AlertCoalescer(Duration.ofMinutes(15));
        c.record("example.com", "r", T0);
        c.record("example.com", "r", T0.plusSeconds(10));
        c.record("example.com", "r", T0.plusSeconds(20));
        List<AlertCoalescer.Alert> next = c.record("example.com", "r", T0.plus(Duration.ofMinutes(20)));
        assertEquals(2, next.size());
        assertEquals(2, next.get(0).count());
        assertTrue(next.get(0).followUp());
        assertEquals(1, next.get(1).count());
    }
}
