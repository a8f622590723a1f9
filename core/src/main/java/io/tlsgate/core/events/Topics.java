package io.tlsgate.core.events;

/** The Kafka topics tlsgate publishes to (docs/events.md). */
public final class Topics {
    /** One event per TLS decision on a connection, inbound and outbound. */
    public static final String TLS_OUTCOMES = "tlsgate.tls-outcomes";
    /** Required-TLS failures and certificate expiry warnings, coalesced. */
    public static final String TLS_ALERTS = "tlsgate.tls-alerts";
    /** Every accepted configuration change, as recorded in the audit log. */
    public static final String AUDIT = "tlsgate.audit";

    private Topics() {}
}
