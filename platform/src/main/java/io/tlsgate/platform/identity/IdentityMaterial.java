package io.tlsgate.platform.identity;

import io.tlsgate.platform.tls.PeerTrust;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

/**
 * One version of a service's identity: its key, its certificate chain, the CA certificates
 * it trusts, and the alias the key managers know this version by (a new one per version, so
 * that a handshake that began with the old one finishes with it).
 *
 * <p>Security-sensitive: holds a private key; {@link #toString()} never shows it.
 */
public record IdentityMaterial(String service, PrivateKey key, X509Certificate[] chain, List<X509Certificate> anchors,
        PeerTrust trust, String alias) {

    /** Checks that the chain names {@code service} and is trusted by {@code anchors}. */
    public static IdentityMaterial of(String service, PrivateKey key, List<X509Certificate> chain, List<X509Certificate> anchors) {
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("the identity has no certificate");
        }
        X509Certificate leaf = chain.get(0);
        String named = ServiceIdentity.of(leaf).orElseThrow(() -> new IllegalArgumentException(
                "certificate " + leaf.getSubjectX500Principal() + " names no service (SAN URI " + ServiceIdentity.uri(service) + ")"));
        if (!named.equals(service)) {
            throw new IllegalArgumentException("certificate " + leaf.getSubjectX500Principal() + " is the identity of " + named
                    + ", not of " + service);
        }
        if (!belongs(key, leaf)) {
            throw new IllegalArgumentException("the private key does not belong to certificate " + leaf.getSubjectX500Principal());
        }
        PeerTrust trust = PeerTrust.of(List.copyOf(anchors));
        X509Certificate[] c = chain.toArray(new X509Certificate[0]);
        PeerTrust.Failure f = trust.check(c, PeerTrust.Role.CLIENT, "UNKNOWN");
        if (f != null) {
            throw new IllegalArgumentException("the identity is not trusted by the internal CA: " + f.detail());
        }
        return new IdentityMaterial(service, key, c, trust.anchors(), trust, "tlsgate-" + leaf.getSerialNumber().toString(16));
    }

    /** Whether {@code key} signs what {@code certificate}'s public key verifies. */
    private static boolean belongs(PrivateKey key, X509Certificate certificate) {
        String alg = "RSA".equals(key.getAlgorithm()) ? "SHA256withRSA" : "EC".equals(key.getAlgorithm()) ? "SHA256withECDSA" : null;
        if (alg == null || !certificate.getPublicKey().getAlgorithm().equals(key.getAlgorithm())) {
            return false;
        }
        try {
            byte[] probe = new byte[32];
            new java.security.SecureRandom().nextBytes(probe);
            java.security.Signature s = java.security.Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] signature = s.sign();
            s.initVerify(certificate.getPublicKey());
            s.update(probe);
            return s.verify(signature);
        } catch (java.security.GeneralSecurityException e) {
            return false;
        }
    }

    public X509Certificate leaf() {
        return chain[0];
    }

    public Instant notBefore() {
        return leaf().getNotBefore().toInstant();
    }

    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }

    @Override
    public String toString() {
        return "IdentityMaterial[" + service + ", " + leaf().getSubjectX500Principal() + ", until " + notAfter() + "]";
    }
}
