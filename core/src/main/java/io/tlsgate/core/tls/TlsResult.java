package io.tlsgate.core.tls;

/** A connection's TLS result, inbound and outbound, as outcome events spell it (docs/events.md). */
public enum TlsResult {
    /** The connection's setting or mode did not try TLS (inbound OFF, outbound NONE). */
    NOT_ATTEMPTED("not-attempted"),
    /** Mail went (or could go) encrypted. */
    SUCCESS("success"),
    /** TLS was wanted but not required, and the connection stayed in plaintext. */
    PLAINTEXT_FALLBACK("plaintext-fallback"),
    /** TLS was required and failed: nothing was sent (outbound) or accepted (inbound). */
    FAILURE("failure");

    private final String wire;

    TlsResult(String wire) {
        this.wire = wire;
    }

    /** The spelling in events and logs. */
    public String wire() {
        return wire;
    }
}
