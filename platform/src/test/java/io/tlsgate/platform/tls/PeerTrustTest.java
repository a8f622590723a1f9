package io.tlsgate.platform.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.platform.tls.PeerTrust.Role;
import io.tlsgate.testkit.TestPki;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.junit.jupiter.api.Test;

/** The one peer-certificate check, for the servers delivery meets and the clients the listener meets. */
class PeerTrustTest {

    private static final TestPki.Issued ROOT = TestPki.selfSignedCa("Peer Trust Root", Duration.ofDays(30));
    private static final TestPki.Issued OTHER = TestPki.selfSignedCa("Someone Else", Duration.ofDays(30));
    private static final KeyPair KEYS = TestPki.ecKeys();
    private static final PeerTrust TRUST = PeerTrust.of(List.of(ROOT.certificate()));

    private static X509Certificate[] leaf(TestPki.Issued issuer, TestPki.Spec spec) {
        return new X509Certificate[] {TestPki.issue(issuer, KEYS.getPublic(), spec)};
    }

    @Test
    void aChainToAnAnchorIsTrustedInBothRoles() {
        X509Certificate[] both = leaf(ROOT, TestPki.Spec.server("peer.test", "peer.test"));
        assertNull(TRUST.check(both, Role.SERVER, "ECDHE_ECDSA"));
        assertNull(TRUST.check(both, Role.SERVER, "UNKNOWN"));
        assertNull(TRUST.check(both, Role.CLIENT, "EC"));
        assertNull(TRUST.check(both, Role.CLIENT, null), "no auth type from the engine is not an error");
    }

    @Test
    void aChainThroughAnIntermediateIsTrusted() {
        TestPki.Issued sub = TestPki.intermediate(ROOT, "Peer Trust Sub");
        X509Certificate leaf = TestPki.issue(sub, KEYS.getPublic(), TestPki.Spec.server("peer.test", "peer.test"));
        assertNull(TRUST.check(new X509Certificate[] {leaf, sub.certificate()}, Role.SERVER, "UNKNOWN"));
        PeerTrust.Failure missing = TRUST.check(new X509Certificate[] {leaf}, Role.SERVER, "UNKNOWN");
        assertEquals(TlsResultType.CERTIFICATE_NOT_TRUSTED, missing.type(), "without its intermediate the path is broken");
    }

    @Test
    void anotherIssuerIsNotTrusted() {
        X509Certificate[] stranger = leaf(OTHER, TestPki.Spec.server("peer.test", "peer.test"));
        for (Role role : Role.values()) {
            PeerTrust.Failure f = TRUST.check(stranger, role, "UNKNOWN");
            assertEquals(TlsResultType.CERTIFICATE_NOT_TRUSTED, f.type(), role.name());
            assertTrue(f.detail().contains("CN=peer.test") && f.detail().contains("is not trusted"), f.detail());
        }
        assertTrue(TRUST.check(stranger, Role.CLIENT, "EC").detail().startsWith("client certificate CN=peer.test"));
    }

    @Test
    void anExpiredOrFutureLeafIsExpired() {
        Instant now = Instant.now();
        TestPki.Spec spec = TestPki.Spec.server("peer.test", "peer.test");
        for (TestPki.Spec s : List.of(spec.validity(now.minus(Duration.ofDays(10)), now.minus(Duration.ofDays(1))),
                spec.validity(now.plus(Duration.ofDays(1)), now.plus(Duration.ofDays(10))))) {
            for (Role role : Role.values()) {
                assertEquals(TlsResultType.CERTIFICATE_EXPIRED, TRUST.check(leaf(ROOT, s), role, "UNKNOWN").type(), role.name());
            }
        }
    }

    @Test
    void theExtendedKeyUsageMustAllowThePeersRole() {
        int ku = KeyUsage.digitalSignature | KeyUsage.keyEncipherment;
        X509Certificate[] serverOnly = leaf(ROOT, TestPki.Spec.server("s.test", "s.test").usage(ku, KeyPurposeId.id_kp_serverAuth));
        X509Certificate[] clientOnly = leaf(ROOT, TestPki.Spec.server("c.test", "c.test").usage(ku, KeyPurposeId.id_kp_clientAuth));
        X509Certificate[] anyPurpose = leaf(ROOT, TestPki.Spec.server("a.test", "a.test").usage(ku, KeyPurposeId.anyExtendedKeyUsage));
        X509Certificate[] noEku = leaf(ROOT, TestPki.Spec.server("n.test", "n.test").usage(ku));
        assertNull(TRUST.check(serverOnly, Role.SERVER, "UNKNOWN"));
        assertNull(TRUST.check(clientOnly, Role.CLIENT, "EC"));
        PeerTrust.Failure f = TRUST.check(serverOnly, Role.CLIENT, "EC");
        assertEquals(TlsResultType.VALIDATION_FAILURE, f.type());
        assertTrue(f.detail().endsWith("is not for TLS client authentication"), f.detail());
        assertEquals(TlsResultType.VALIDATION_FAILURE, TRUST.check(clientOnly, Role.SERVER, "UNKNOWN").type());
        for (Role role : Role.values()) {
            assertNull(TRUST.check(anyPurpose, role, "UNKNOWN"), role.name());
            assertNull(TRUST.check(noEku, role, "UNKNOWN"), role.name());
        }
    }

    @Test
    void aClientCertificateMustBeAllowedToSign() {
        X509Certificate[] encipherOnly = leaf(ROOT, TestPki.Spec.server("c.test", "c.test")
                .usage(KeyUsage.keyEncipherment, KeyPurposeId.id_kp_clientAuth));
        assertEquals(TlsResultType.CERTIFICATE_NOT_TRUSTED, TRUST.check(encipherOnly, Role.CLIENT, "EC").type());
    }

    @Test
    void noAnchorsTrustNothingAndNoChainIsAFailure() {
        X509Certificate[] good = leaf(ROOT, TestPki.Spec.server("peer.test", "peer.test"));
        PeerTrust.Failure none = PeerTrust.NONE.check(good, Role.SERVER, "UNKNOWN");
        assertEquals(TlsResultType.CERTIFICATE_NOT_TRUSTED, none.type());
        assertEquals("no trusted CA is configured", none.detail());
        assertEquals(TlsResultType.VALIDATION_FAILURE, TRUST.check(new X509Certificate[0], Role.CLIENT, "EC").type());
        assertEquals("no client certificate", TRUST.check(null, Role.CLIENT, "EC").detail());
    }

    @Test
    void theSystemBundleComesWithTheOperatorsCas() {
        PeerTrust system = PeerTrust.systemAnd(List.of(ROOT.certificate()));
        assertTrue(system.anchors().size() > 1 && system.anchors().contains(ROOT.certificate()));
        assertNull(system.check(leaf(ROOT, TestPki.Spec.server("peer.test", "peer.test")), Role.CLIENT, "EC"));
        List<X509Certificate> anchors = List.of(ROOT.certificate());
        assertSame(anchors, PeerTrust.of(anchors).anchors());
    }

    @Test
    void theAuthTypeIsTheKeyExchangeOfATls12Suite() {
        assertEquals("ECDHE_RSA", PeerTrust.authType("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
        assertEquals("RSA", PeerTrust.authType("TLSv1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256"));
        assertEquals("UNKNOWN", PeerTrust.authType("TLSv1.3", "TLS_AES_128_GCM_SHA256"));
        assertEquals("UNKNOWN", PeerTrust.authType("TLSv1.2", null));
    }
}
