package io.tlsgate.core.destination;

/** What the connection and recipient limits count (docs/destination-controls.md {@code limitsApplyPer}). */
public enum LimitsApplyPer {
    /** The whole destination together (appliance {@code limit_type} 0 / {@code host}). */
    DOMAIN,
    /** Each mail-exchanger IP separately (appliance {@code limit_type} 1 / {@code MXIP}). */
    MX_IP
}
