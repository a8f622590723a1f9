package io.tlsgate.delivery.queue;

import java.nio.file.Path;
import java.util.List;

/**
 * A message to enqueue: envelope, content (spooled to a file, not held in memory) and where
 * it came from.
 *
 * @param mailFrom envelope sender; empty for the null reverse-path
 * @param tls how it came in
 */
public record NewMessage(String mailFrom, List<String> recipients, Path data, long size, long icid, String listener,
        TlsFacts tls) {

    /** The inbound connection's TLS facts. */
    public record TlsFacts(String protocol, String cipher, String clientSubject, boolean clientVerified) {
        public static final TlsFacts NONE = new TlsFacts(null, null, null, false);
    }
}
