package io.tlsgate.core.tls;

/** The TLS setting of a mail flow policy (docs/inbound-policy.md). */
public enum InboundTls {
    /** STARTTLS not advertised; the command is answered 502 5.5.1. */
    OFF,
    /** STARTTLS advertised, plaintext accepted (except for the policy's TLS-mandatory senders). */
    PREFERRED,
    /** STARTTLS advertised; mail commands before TLS get 530 5.7.0. */
    REQUIRED,
    /** As PREFERRED, and a client certificate is requested: none is fine, an invalid one is rejected. */
    PREFERRED_VERIFY,
    /** As REQUIRED, and a valid client certificate is mandatory. */
    REQUIRED_VERIFY;

    public boolean advertisesStartTls() {
        return this != OFF;
    }

    /** Whether every mail command needs TLS first. */
    public boolean requiresTls() {
        return this == REQUIRED || this == REQUIRED_VERIFY;
    }

    public boolean requestsClientCertificate() {
        return this == PREFERRED_VERIFY || this == REQUIRED_VERIFY;
    }

    public boolean requiresClientCertificate() {
        return this == REQUIRED_VERIFY;
    }

    /** Whether a list of TLS-mandatory envelope senders means anything with this setting. */
    public boolean allowsMandatorySenders() {
        return this == PREFERRED || this == PREFERRED_VERIFY;
    }
}
