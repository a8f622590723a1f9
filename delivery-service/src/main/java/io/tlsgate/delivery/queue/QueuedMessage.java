package io.tlsgate.delivery.queue;

import java.time.Instant;
import java.util.List;

/**
 * A message as the queue holds it (without its content); {@code tlsRequest}: what its sender
 * asked of its transport; {@code finishedAt}: when its last recipient was settled (retention
 * counts from then), {@code contentRemovedAt}: when retention removed its content (both null
 * while it is queued).
 */
public record QueuedMessage(long mid, String mailFrom, int size, long icid, String listener, Instant receivedAt,
        String state, TlsRequest tlsRequest, List<Recipient> recipients, List<Attempts.Attempt> attempts, Instant finishedAt,
        Instant contentRemovedAt) {

    /** One recipient of a message; {@code rid} is its index, as in the mail log's {@code RID [n]}. */
    public record Recipient(int rid, String address, String state, int attempts, Instant nextAttemptAt, String lastReply) {}
}
