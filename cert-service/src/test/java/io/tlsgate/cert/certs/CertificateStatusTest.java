package io.tlsgate.cert.certs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsgate.cert.keys.KeyVault;
import io.tlsgate.testkit.TestPki;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The status shown for a certificate: DEMO, EXPIRED, SELF_SIGNED, CA_SIGNED. */
class CertificateStatusTest {

    private static StoredCertificate stored(X509Certificate leaf, boolean demo) {
        KeyVault.Sealed none = new KeyVault.Sealed(new byte[0], new byte[0], new byte[0], new byte[0], "x");
        return new StoredCertificate("c", KeyType.EC_P256, none, List.of(leaf), null, demo, Instant.now(), Instant.now(), "t");
    }

    @Test
    void statusFollowsTheLeaf() {
        KeyPair keys = KeyType.EC_P256.generate();
        Pki.Subject s = new Pki.Subject("a.example", List.of(), null, null, null, null, null);
        X509Certificate self = Pki.selfSigned(keys, KeyType.EC_P256, s, 10);
        Instant now = Instant.now();
        assertEquals(CertificateView.Status.SELF_SIGNED, CertificateView.status(stored(self, false), now));
        assertEquals(CertificateView.Status.DEMO, CertificateView.status(stored(self, true), now));
        assertEquals(CertificateView.Status.EXPIRED, CertificateView.status(stored(self, false), now.plus(Duration.ofDays(11))));
        TestPki.Issued ca = TestPki.selfSignedCa("Status CA", Duration.ofDays(30));
        X509Certificate signed = TestPki.issue(ca, keys.getPublic(), TestPki.Spec.server("a.example"));
        assertEquals(CertificateView.Status.CA_SIGNED, CertificateView.status(stored(signed, false), now));
        assertEquals(CertificateView.Status.EXPIRED, CertificateView.status(stored(signed, false), now.plus(Duration.ofDays(91))));
        CertificateView v = CertificateView.of(stored(signed, false), List.of("outbound"), now.plus(Duration.ofDays(91)));
        assertEquals("EXPIRED", v.status());
        assertEquals(List.of("outbound"), v.assignedTo());
    }
}
