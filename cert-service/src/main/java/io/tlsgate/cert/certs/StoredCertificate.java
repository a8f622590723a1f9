package io.tlsgate.cert.certs;

import io.tlsgate.cert.keys.KeyVault;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

/** A certificate row: the chain (leaf first), the sealed key, and its bookkeeping. */
public record StoredCertificate(String name, KeyType keyType, KeyVault.Sealed sealedKey, List<X509Certificate> chain,
        String csrPem, boolean demo, Instant createdAt, Instant updatedAt, String createdBy) {

    public X509Certificate leaf() {
        return chain.get(0);
    }
}
