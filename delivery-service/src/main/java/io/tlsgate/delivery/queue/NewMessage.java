package io.tlsgate.delivery.queue;

import java.util.List;

/**
 * A message to enqueue: envelope, content and where it came from.
 *
 * @param mailFrom envelope sender; empty for the null reverse-path
 */
public record NewMessage(String mailFrom, List<String> recipients, byte[] data, long icid, String listener) {}
