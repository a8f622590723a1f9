package io.tlsgate.policy.destination;

import io.tlsgate.core.tls.OutboundTlsMode;

/**
 * The effective outbound settings for one destination, and which entry supplied the TLS mode.
 */
public record OutboundPolicy(
        String domain,
        OutboundTlsMode tls,
        String tlsSuppliedBy,
        int maxConcurrentConnections,
        int maxMessagesPerConnection,
        String bounceProfile) {}
