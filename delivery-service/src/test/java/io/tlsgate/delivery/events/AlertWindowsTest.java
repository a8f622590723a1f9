package io.tlsgate.delivery.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.platform.db.Jdbc;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * Alerts per domain and reason: the first at once, the rest of the window as one counted
 * follow-up; the windows are rows in PostgreSQL, so every step below is its own transaction,
 * as deliveries on different replicas would be.
 */
@QuarkusTest
class AlertWindowsTest {

    /** A day ahead: the service's own minute-by-minute flush (which uses the clock) never ends these windows. */
    private static final Instant T0 = Instant.now().plus(Duration.ofDays(1)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);

    @Inject
    DataSource dataSource;

    private final AlertWindows windows = new AlertWindows(Duration.ofMinutes(15));

    private List<AlertWindows.Alert> record(String domain, String reason, Instant now) {
        return Jdbc.transaction(dataSource, c -> windows.record(c, domain, reason, now));
    }

    /** Follow-ups of the ended windows of {@code domains} (other tests' windows may end too). */
    private List<AlertWindows.Alert> flush(Instant now, String... domains) {
        return Jdbc.transaction(dataSource, c -> windows.flush(c, now)).stream()
                .filter(a -> List.of(domains).contains(a.domain())).toList();
    }

    private static String domain() {
        return "w" + UUID.randomUUID().toString().substring(0, 8) + ".example";
    }

    @Test
    void aBrokenPeerDoesNotFloodThePager() {
        String com = domain();
        String org = domain();
        List<AlertWindows.Alert> first = record(com, "starttls-not-supported", T0);
        assertEquals(1, first.size());
        assertEquals(1, first.get(0).count());
        for (int i = 1; i <= 99; i++) {
            assertTrue(record(com, "starttls-not-supported", T0.plusSeconds(i * 5)).isEmpty());
        }
        // Another reason or another domain is its own window.
        assertEquals(1, record(com, "certificate-expired", T0.plusSeconds(60)).size());
        assertEquals(1, record(org, "starttls-not-supported", T0.plusSeconds(60)).size());
        assertTrue(flush(T0.plus(Duration.ofMinutes(14)), com, org).isEmpty(), "the window is still open");
        List<AlertWindows.Alert> later = flush(T0.plus(Duration.ofMinutes(15)), com, org);
        assertEquals(1, later.size(), "only the window with failures held back: " + later);
        assertEquals(99, later.get(0).count());
        assertTrue(later.get(0).followUp());
        assertEquals(T0.plusSeconds(495), later.get(0).until());
        assertTrue(flush(T0.plus(Duration.ofMinutes(20)), com, org).isEmpty(), "each follow-up once");
        assertEquals(1, record(com, "starttls-not-supported", T0.plus(Duration.ofMinutes(16))).size(),
                "a new window starts with an immediate alert");
    }

    @Test
    void anUnflushedWindowIsReportedWhenTheNextOneStarts() {
        String d = domain();
        record(d, "r", T0);
        record(d, "r", T0.plusSeconds(10));
        record(d, "r", T0.plusSeconds(20));
        List<AlertWindows.Alert> next = record(d, "r", T0.plus(Duration.ofMinutes(20)));
        assertEquals(2, next.size());
        assertEquals(2, next.get(0).count());
        assertTrue(next.get(0).followUp());
        assertEquals(1, next.get(1).count());
    }
}
