package io.tlsgate.core.tls;

/**
 * What became of the check of the peer's certificate on a connection, inbound (the client's)
 * and outbound (the server's), as outcome events and the queue spell it (docs/events.md).
 */
public enum Verification {
    /** The certificate was checked and passed. */
    SUCCESS("success"),
    /** The certificate was checked and failed (or was missing where one is mandatory). */
    FAILURE("failure"),
    /** A client certificate was asked for, none was sent, and none was required. */
    NOT_PRESENTED("not-presented"),
    /** Nothing was checked: the mode or setting does not verify, or TLS never started. */
    NOT_CHECKED("not-checked");

    private final String wire;

    Verification(String wire) {
        this.wire = wire;
    }

    /** The spelling in events, the queue and logs. */
    public String wire() {
        return wire;
    }
}
