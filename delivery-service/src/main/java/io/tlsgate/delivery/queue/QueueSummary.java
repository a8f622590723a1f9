package io.tlsgate.delivery.queue;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/** The queue at a glance: counts by state, and the queued recipients per destination domain (most first, at most 100). */
public record QueueSummary(Map<String, Long> messagesByState, Map<String, Long> recipientsByState,
        List<Destination> queuedByDestination) {

    /** Queued recipients of one domain, and when the next of them is due. */
    public record Destination(String domain, long recipients, Instant nextAttemptAt) {}
}
