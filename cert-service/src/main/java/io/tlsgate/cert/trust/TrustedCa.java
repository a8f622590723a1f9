package io.tlsgate.cert.trust;

import java.time.Instant;
import java.util.UUID;

/** An operator-added CA certificate. */
public record TrustedCa(UUID id, String subject, String fingerprintSha256, Instant notAfter, String pem,
        Instant addedAt, String addedBy) {}
