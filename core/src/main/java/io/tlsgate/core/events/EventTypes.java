package io.tlsgate.core.events;

/** The CloudEvents {@code type} of every event tlsgate publishes (docs/events.md). */
public final class EventTypes {
    /** One per connection's TLS decision, inbound and outbound, on {@link Topics#TLS_OUTCOMES}. */
    public static final String TLS_OUTCOME = "io.tlsgate.tls.outcome";
    /** A required-TLS delivery failure, coalesced, on {@link Topics#TLS_ALERTS}. */
    public static final String TLS_REQUIRED_FAILURE = "io.tlsgate.tls.required-failure";
    /** A certificate close to its expiry, on {@link Topics#TLS_ALERTS}. */
    public static final String CERT_EXPIRING = "io.tlsgate.cert.expiring";
    /** An accepted configuration change, on {@link Topics#AUDIT}. */
    public static final String AUDIT_CHANGE = "io.tlsgate.audit.change";

    private EventTypes() {}
}
