package io.tlsgate.policy.settings;

/**
 * Global outbound settings (docs/destination-controls.md): whether a required-TLS failure raises an alert,
 * the cert-service slot whose certificate delivery presents as TLS client certificate, and
 * which CAs verification trusts.
 */
public record OutboundSettings(boolean alertOnRequiredTlsFailure, String certificateSlot, TrustedCaMode trustedCaMode) {

    /** Which CAs the verify modes trust. */
    public enum TrustedCaMode {
        /** The system bundle plus the CAs operators added in cert-service (the default). */
        SYSTEM_AND_CUSTOM,
        /** Only the CAs operators added. */
        CUSTOM_ONLY,
        /** Only the system bundle. */
        SYSTEM_ONLY
    }
}
