package io.tlsgate.delivery.schedule;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The DSNs' RFC 3464 fields: a failure and a delay warning. */
class DsnTest {

    private static final ZonedDateTime ARRIVAL = ZonedDateTime.of(2026, 12, 3, 6, 0, 0, 0, ZoneOffset.UTC);
    private static final ZonedDateTime NOW = ARRIVAL.plusHours(4);

    @Test
    void aDelayWarningSaysDelayedWithTheTemporaryStatusAndUntilWhen() {
        String dsn = new String(Dsn.delayed("mx.gw.test", "s@origin.test", 42, List.of(new Dsn.Failed("r@dest.test", "4.7.5",
                "421 4.7.5 TLS required by policy", "mx.dest.test")), ARRIVAL, NOW, ARRIVAL.plusDays(3)), StandardCharsets.US_ASCII);
        assertTrue(dsn.contains("Subject: Delayed Mail (still being retried)\r\n"), dsn);
        assertTrue(dsn.contains("has not yet been delivered to 1 recipient(s). It will be retried until Sun, 6 Dec 2026 06:00:00 GMT"),
                dsn);
        assertTrue(dsn.contains("Arrival-Date: Thu, 3 Dec 2026 06:00:00 GMT\r\n"), dsn);
        assertTrue(dsn.contains("Final-Recipient: rfc822; r@dest.test\r\nAction: delayed\r\nStatus: 4.7.5\r\n"
                + "Remote-MTA: dns; mx.dest.test\r\nDiagnostic-Code: smtp; 421 4.7.5 TLS required by policy\r\n"
                + "Will-Retry-Until: Sun, 6 Dec 2026 06:00:00 GMT\r\n"), dsn);
        assertTrue(dsn.contains("Content-Type: multipart/report; report-type=delivery-status;"), dsn);
    }

    @Test
    void aFailureSaysFailedWithoutRetry() {
        String dsn = new String(Dsn.build("mx.gw.test", "s@origin.test", 42, List.of(new Dsn.Failed("r@dest.test", "5.1.1",
                "550 5.1.1 no such user", null)), NOW), StandardCharsets.US_ASCII);
        assertTrue(dsn.contains("Subject: Undelivered Mail Returned to Sender\r\n"), dsn);
        assertTrue(dsn.contains("Action: failed\r\nStatus: 5.1.1\r\n"), dsn);
        assertFalse(dsn.contains("Will-Retry-Until"), dsn);
    }
}
