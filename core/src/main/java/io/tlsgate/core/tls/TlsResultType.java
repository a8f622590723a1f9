package io.tlsgate.core.tls;

/**
 * Why TLS failed, as outcome events spell it: RFC 8460's negotiation failure types (section
 * 4.3.1) and the MTA-STS and DANE policy failure types (4.3.2), plus tlsgate's {@code handshake-failure} for a handshake that failed for a reason
 * that is not about the certificate (docs/events.md).
 */
public enum TlsResultType {
    STARTTLS_NOT_SUPPORTED("starttls-not-supported"),
    CERTIFICATE_HOST_MISMATCH("certificate-host-mismatch"),
    CERTIFICATE_EXPIRED("certificate-expired"),
    CERTIFICATE_NOT_TRUSTED("certificate-not-trusted"),
    /** RFC 8460's general failure: also plaintext injected around STARTTLS, a missing client certificate. */
    VALIDATION_FAILURE("validation-failure"),
    /** Not RFC 8460's: the handshake itself failed (protocol or cipher mismatch, an alert, a time-out). */
    HANDSHAKE_FAILURE("handshake-failure"),
    /** RFC 8460 §4.3.2: the MTA-STS policy could not be fetched (no host, refused, not 200, too slow, too big). */
    STS_POLICY_FETCH_ERROR("sts-policy-fetch-error"),
    /** RFC 8460 §4.3.2: the MTA-STS policy (or its TXT record) is not valid. */
    STS_POLICY_INVALID("sts-policy-invalid"),
    /** RFC 8460 §4.3.2: the policy host's HTTPS certificate did not verify. */
    STS_WEBPKI_INVALID("sts-webpki-invalid"),
    /** RFC 8460 §4.3.2: the host's DANE TLSA records are usable but none matches its certificate chain. */
    TLSA_INVALID("tlsa-invalid"),
    /** RFC 8460 §4.3.2: DNSSEC validation of records DANE depends on failed (bogus: forged, expired or broken). */
    DNSSEC_INVALID("dnssec-invalid");

    private final String wire;

    TlsResultType(String wire) {
        this.wire = wire;
    }

    /** The spelling in events and logs. */
    public String wire() {
        return wire;
    }

    /** The type spelt {@code wire}. */
    public static TlsResultType ofWire(String wire) {
        for (TlsResultType t : values()) {
            if (t.wire.equals(wire)) {
                return t;
            }
        }
        throw new IllegalArgumentException("not a TLS result type: " + wire);
    }
}
