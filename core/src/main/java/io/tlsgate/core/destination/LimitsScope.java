package io.tlsgate.core.destination;

/** Where the limits are counted (docs/destination-controls.md {@code limitsScope}). */
public enum LimitsScope {
    /** Cluster-wide, all delivery-service replicas together (appliance {@code limit_apply} 0). */
    SYSTEM,
    /** Per sending interface/IP (appliance {@code limit_apply} 1 / {@code VG}). */
    VIRTUAL_GATEWAY
}
