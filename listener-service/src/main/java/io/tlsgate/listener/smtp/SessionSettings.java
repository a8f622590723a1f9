package io.tlsgate.listener.smtp;

import io.tlsgate.listener.ListenerConfig;
import java.time.Duration;
import java.util.List;

/** The listener settings a session applies (from {@code tlsgate.listener.*}). */
record SessionSettings(int maxErrors, Duration sessionTimeout, Duration enqueueTimeout, Duration handshakeTimeout,
        List<String> tlsProtocols, List<String> tlsCiphers) {

    static SessionSettings of(ListenerConfig c) {
        return new SessionSettings(c.maxErrors(), c.sessionTimeout(), c.enqueueTimeout(), c.handshakeTimeout(),
                List.copyOf(c.tlsProtocols()), List.copyOf(c.tlsCiphers()));
    }
}
