package io.tlsgate.delivery.queue;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The queue at a glance: counts by state, the queued recipients per destination domain (most
 * first, at most 100), and one page of the recipients the request's filters select.
 *
 * @param next the {@code after} value for the next page; null on the last page
 */
public record QueueSummary(Map<String, Long> messagesByState, Map<String, Long> recipientsByState,
        List<Destination> queuedByDestination, List<Entry> recipients, String next) {

    /** Queued recipients of one domain, and when the next of them is due. */
    public record Destination(String domain, long recipients, Instant nextAttemptAt) {}

    /** One recipient of a message, with its envelope sender and what happened last. */
    public record Entry(long mid, int rid, String address, String domain, String state, String mailFrom, Instant receivedAt,
            int attempts, Instant nextAttemptAt, String lastReply, String redirectHost) {}

    /**
     * Which recipients {@code GET /api/v1/queue} lists.
     *
     * @param state QUEUED, DELIVERED, BOUNCED, DELETED or null (any)
     * @param olderThan received at least this long ago (null: any age)
     * @param lastError a text the last reply contains, case-insensitive (null: any)
     * @param afterMid with {@code afterRid}: the last row of the previous page
     */
    public record Filter(String state, String domain, java.time.Duration olderThan, String lastError, Long afterMid,
            Integer afterRid, int limit) {}
}
