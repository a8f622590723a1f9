package io.tlsgate.delivery.schedule;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * When a temporarily failed recipient is tried again, under its bounce profile
 * (docs/delivery.md): exponential back-off from the initial to the maximum retry interval; the recipient
 * bounces once it has been retried {@code maxRetries} times or has been queued for the
 * maximum time.
 */
public record RetrySchedule(int maxRetries, Duration maxTimeInQueue, Duration initialInterval, Duration maxInterval) {

    /**
     * The next attempt after attempt number {@code attempts} (1 = the first) failed
     * temporarily at {@code now}; empty when the recipient must bounce instead.
     */
    public Optional<Instant> next(int attempts, Instant receivedAt, Instant now) {
        if (attempts > maxRetries || !now.isBefore(receivedAt.plus(maxTimeInQueue))) {
            return Optional.empty();
        }
        long seconds = initialInterval.toSeconds();
        for (int i = 1; i < attempts && seconds < maxInterval.toSeconds(); i++) {
            seconds *= 2;
        }
        Instant next = now.plusSeconds(Math.min(seconds, maxInterval.toSeconds()));
        Instant expiry = receivedAt.plus(maxTimeInQueue);
        // One last try when the queue time runs out rather than a retry scheduled past it.
        return Optional.of(next.isAfter(expiry) ? expiry : next);
    }
}
