package io.tlsgate.delivery.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Back-off and give-up under a bounce profile: 3 retries, 1 h in queue, 60 s doubling up to 600 s. */
class RetryScheduleTest {

    private static final RetrySchedule PROFILE = new RetrySchedule(3, Duration.ofHours(1), Duration.ofSeconds(60),
            Duration.ofSeconds(600));
    private static final Instant RECEIVED = Instant.parse("2026-11-25T10:00:00Z");

    @ParameterizedTest(name = "attempt {0} failed {1}s after arrival: next in {2}s")
    @CsvSource({
        // attempt, seconds since arrival, seconds until next (-1 = bounce)
        "1, 0, 60",
        "2, 60, 120",
        "3, 180, 240",
        "4, 420, -1",        // the 4th attempt was the 3rd retry: maxRetries reached
        "1, 3599, 1",        // a retry never goes past the queue time: one last try at expiry
        "1, 3600, -1",       // queued for the maximum time
        "2, 3000, 120",
    })
    void backsOffThenGivesUp(int attempt, long since, long next) {
        Instant now = RECEIVED.plusSeconds(since);
        Optional<Instant> n = PROFILE.next(attempt, RECEIVED, now);
        assertEquals(next < 0 ? Optional.empty() : Optional.of(now.plusSeconds(next)), n);
    }

    @ParameterizedTest(name = "attempt {0}: capped at the maximum interval")
    @CsvSource({"4, 480", "5, 600", "30, 600"})
    void capsAtTheMaximumInterval(int attempt, long next) {
        RetrySchedule many = new RetrySchedule(100, Duration.ofDays(5), Duration.ofSeconds(60), Duration.ofSeconds(600));
        assertEquals(Optional.of(RECEIVED.plusSeconds(next)), many.next(attempt, RECEIVED, RECEIVED));
    }

    @ParameterizedTest(name = "no retries: the first temporary failure bounces")
    @CsvSource({"1"})
    void zeroRetries(int attempt) {
        RetrySchedule none = new RetrySchedule(0, Duration.ofDays(1), Duration.ofSeconds(60), Duration.ofSeconds(600));
        assertEquals(Optional.empty(), none.next(attempt, RECEIVED, RECEIVED));
    }
}
