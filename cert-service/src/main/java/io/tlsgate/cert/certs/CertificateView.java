package io.tlsgate.cert.certs;

import io.tlsgate.core.tls.CertificateIdentity;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A certificate as the API shows it. Never the private key.
 *
 * @param status DEMO, EXPIRED, SELF_SIGNED or CA_SIGNED
 * @param assignedTo the slots that serve it
 */
public record CertificateView(String name, String subject, String issuer, List<String> subjectAltNames, Instant notBefore,
        Instant notAfter, long daysToExpiry, String fingerprintSha256, String keyType, String status, List<ChainEntry> chain,
        List<String> assignedTo, boolean hasCsr) {

    public enum Status { DEMO, EXPIRED, SELF_SIGNED, CA_SIGNED }

    /** One certificate of the chain, leaf first. */
    public record ChainEntry(String subject, String issuer, Instant notAfter, String fingerprintSha256) {}

    static CertificateView of(StoredCertificate s, List<String> slots, Instant now) {
        X509Certificate leaf = s.leaf();
        List<ChainEntry> chain = new ArrayList<>();
        for (X509Certificate x : s.chain()) {
            chain.add(new ChainEntry(x.getSubjectX500Principal().getName(), x.getIssuerX500Principal().getName(),
                    x.getNotAfter().toInstant(), fingerprint(x)));
        }
        Instant notAfter = leaf.getNotAfter().toInstant();
        return new CertificateView(s.name(), leaf.getSubjectX500Principal().getName(),
                leaf.getIssuerX500Principal().getName(), CertificateIdentity.dnsNames(leaf), leaf.getNotBefore().toInstant(), notAfter,
                Duration.between(now, notAfter).toDays(), fingerprint(leaf), KeyType.describe(leaf.getPublicKey()),
                status(s, now).name(), chain, slots, s.csrPem() != null);
    }

    static Status status(StoredCertificate s, Instant now) {
        if (s.demo()) {
            return Status.DEMO;
        }
        X509Certificate leaf = s.leaf();
        if (now.isAfter(leaf.getNotAfter().toInstant())) {
            return Status.EXPIRED;
        }
        return leaf.getSubjectX500Principal().equals(leaf.getIssuerX500Principal()) ? Status.SELF_SIGNED : Status.CA_SIGNED;
    }

    public static String fingerprint(X509Certificate x) {
        try {
            return HexFormat.ofDelimiter(":").withUpperCase()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(x.getEncoded()));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
