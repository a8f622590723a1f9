package io.tlsgate.core.inbound;

/**
 * A listener (docs/inbound-policy.md): a named SMTP endpoint. Its certificate is whatever
 * cert-service has assigned to slot {@code listener:<name>}.
 *
 * @param hostname the name announced in the greeting and EHLO reply
 * @param maxConnectionsPerClient concurrent connections one client address may hold
 */
public record Listener(String name, String bindAddress, int port, String hostname, int maxConcurrentConnections,
        int maxConnectionsPerClient, long maxMessageSizeBytes) {

    public static final int MAX_CONNECTIONS = 100_000;
    public static final long MIN_MESSAGE_SIZE = 1024;
    public static final long MAX_MESSAGE_SIZE = 1024L * 1024 * 1024;
    public static final int DEFAULT_MAX_CONNECTIONS = 300;
    public static final int DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 20;
    public static final long DEFAULT_MAX_MESSAGE_SIZE = 10L * 1024 * 1024;

    public String certificateSlot() {
        return "listener:" + name;
    }
}
