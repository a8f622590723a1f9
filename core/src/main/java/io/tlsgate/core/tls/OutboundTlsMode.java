package io.tlsgate.core.tls;

/**
 * The six outbound TLS modes of a destination control (docs/destination-controls.md), weakest first.
 * Callers ask the predicates, never compare names.
 */
public enum OutboundTlsMode {
    /** STARTTLS is never sent. */
    NONE(false, false, false),
    /** STARTTLS when advertised; plaintext when it is not; certificate not checked. */
    PREFERRED(true, false, false),
    /** STARTTLS must succeed; certificate not checked. */
    REQUIRED(true, true, false),
    /** As PREFERRED, and the certificate is checked; a failed check is reported, mail still goes. */
    PREFERRED_VERIFY(true, false, true),
    /** STARTTLS must succeed and the certificate must verify ("Verify" rules). */
    REQUIRED_VERIFY(true, true, true),
    /** STARTTLS must succeed and the certificate must verify ("Hosted Verify" rules). */
    REQUIRED_VERIFY_HOSTED_DOMAINS(true, true, true);

    private final boolean attemptsTls;
    private final boolean requiresTls;
    private final boolean verifiesCertificate;

    OutboundTlsMode(boolean attemptsTls, boolean requiresTls, boolean verifiesCertificate) {
        this.attemptsTls = attemptsTls;
        this.requiresTls = requiresTls;
        this.verifiesCertificate = verifiesCertificate;
    }

    /** Whether STARTTLS is sent when the peer advertises it. */
    public boolean attemptsTls() {
        return attemptsTls;
    }

    /** Whether a delivery without TLS is a (temporary) failure. */
    public boolean requiresTls() {
        return requiresTls;
    }

    /** Whether the peer certificate is checked at all. */
    public boolean verifiesCertificate() {
        return verifiesCertificate;
    }

    /** Whether a failed certificate check stops the delivery (nothing is sent). */
    public boolean requiresVerifiedCertificate() {
        return requiresTls && verifiesCertificate;
    }

    /** Whether the "Hosted Verify" identity rules apply (docs/delivery.md) instead of "Verify". */
    public boolean usesHostedIdentityRules() {
        return this == REQUIRED_VERIFY_HOSTED_DOMAINS;
    }

    /** Whether a TLS failure on a connection in this mode raises an alert (the REQUIRED* modes). */
    public boolean alertsOnFailure() {
        return requiresTls;
    }
}
