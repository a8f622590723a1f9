package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.testkit.TestPki;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Name;
import org.xbill.DNS.TLSARecord;

/**
 * DANE matching of certificate chains (RFC 7672 §3.1, RFC 7671) on real certificates: every
 * usage, selector and matching type SMTP uses, and the ways a chain fails to match.
 */
class DaneCheckTest {

    private static final String MX = "mx1.example.net";
    private static final String DOMAIN = "example.net";
    private final TestPki.Issued ca = TestPki.selfSignedCa("DANE test CA", Duration.ofDays(30));

    @Test
    void daneEeMatchesTheLeafByKeyOrCertificateWhateverItsNamesAndDates() throws Exception {
        X509Certificate leaf = leaf("somewhere-else.example", Instant.now().minus(Duration.ofDays(30)),
                Instant.now().minus(Duration.ofDays(1)));
        X509Certificate[] chain = {leaf};
        for (TLSARecord r : List.of(tlsa(3, 1, 1, sha("SHA-256", leaf.getPublicKey().getEncoded())),
                tlsa(3, 0, 1, sha("SHA-256", leaf.getEncoded())), tlsa(3, 1, 2, sha("SHA-512", leaf.getPublicKey().getEncoded())),
                tlsa(3, 1, 0, leaf.getPublicKey().getEncoded()))) {
            CertificateCheck c = check(chain, r);
            assertNull(c.failureType(), r + ": " + c.detail());
            assertTrue(c.reference().startsWith("DANE TLSA _25._tcp." + MX + " 3 " + r.getSelector() + " " + r.getMatchingType()),
                    c.reference());
        }
    }

    @Test
    void aWrongDigestMatchesNothing() throws Exception {
        X509Certificate leaf = leaf(MX, null, null);
        byte[] digest = sha("SHA-256", leaf.getPublicKey().getEncoded());
        digest[31] ^= 1;
        CertificateCheck c = check(new X509Certificate[] {leaf}, tlsa(3, 1, 1, digest));
        assertEquals(TlsResultType.TLSA_INVALID, c.failureType());
        assertTrue(c.detail().startsWith("no TLSA record of _25._tcp." + MX + " [3 1 1 "), c.detail());
    }

    @Test
    void daneTaMatchesAnIssuerInTheChainAndNeedsTheMxNameOrTheDomain() throws Exception {
        TLSARecord ta = tlsa(2, 0, 1, sha("SHA-256", ca.certificate().getEncoded()));
        CertificateCheck named = check(new X509Certificate[] {leaf(MX, null, null), ca.certificate()}, ta);
        assertNull(named.failureType(), named.detail());
        assertTrue(named.reference().endsWith("(trust anchor, name " + MX + ")"), named.reference());
        CertificateCheck byDomain = check(new X509Certificate[] {leaf(DOMAIN, null, null), ca.certificate()}, ta);
        assertNull(byDomain.failureType(), byDomain.detail());

        CertificateCheck other = check(new X509Certificate[] {leaf("mx.other.example", null, null), ca.certificate()}, ta);
        assertEquals(TlsResultType.TLSA_INVALID, other.failureType());
        assertTrue(other.detail().contains("match none of"), other.detail());

        CertificateCheck missing = check(new X509Certificate[] {leaf(MX, null, null)}, ta);
        assertEquals(TlsResultType.TLSA_INVALID, missing.failureType(), "the anchor must be in the chain the server sent");
    }

    @Test
    void daneTaChecksTheDatesAndSignaturesBelowTheAnchor() throws Exception {
        TLSARecord ta = tlsa(2, 1, 1, sha("SHA-256", ca.certificate().getPublicKey().getEncoded()));
        X509Certificate expired = leaf(MX, Instant.now().minus(Duration.ofDays(30)), Instant.now().minus(Duration.ofDays(1)));
        CertificateCheck c = check(new X509Certificate[] {expired, ca.certificate()}, ta);
        assertEquals(TlsResultType.TLSA_INVALID, c.failureType());
        assertTrue(c.detail().contains("does not validate"), c.detail());

        TestPki.Issued otherCa = TestPki.selfSignedCa("Another CA", Duration.ofDays(30));
        KeyPair kp = TestPki.ecKeys();
        X509Certificate foreign = TestPki.issue(otherCa, kp.getPublic(), TestPki.Spec.server(MX, MX));
        CertificateCheck forged = check(new X509Certificate[] {foreign, ca.certificate()}, ta);
        assertEquals(TlsResultType.TLSA_INVALID, forged.failureType(), "a leaf the anchor did not sign");
        assertTrue(forged.detail().contains("does not validate"), forged.detail());
    }

    /**
     * A leaf key of some customer of the anchored CA cannot sign a certificate for our MX host:
     * every certificate between the leaf and the anchor must be a CA (RFC 5280 basic constraints).
     */
    @Test
    void aNonCaCertificateBelowTheAnchorCannotIssue() throws Exception {
        TLSARecord ta = tlsa(2, 1, 1, sha("SHA-256", ca.certificate().getPublicKey().getEncoded()));
        KeyPair customer = TestPki.ecKeys();
        X509Certificate customerLeaf = TestPki.issue(ca, customer.getPublic(), TestPki.Spec.server("shop.example", "shop.example"));
        KeyPair forgedKeys = TestPki.ecKeys();
        X509Certificate forged = TestPki.issue(new TestPki.Issued(customer, customerLeaf), forgedKeys.getPublic(),
                TestPki.Spec.server(MX, MX));
        CertificateCheck c = check(new X509Certificate[] {forged, customerLeaf, ca.certificate()}, ta);
        assertEquals(TlsResultType.TLSA_INVALID, c.failureType(), "an end-entity certificate issued a certificate");
        TestPki.Issued intermediate = TestPki.intermediate(ca, "Intermediate CA");
        KeyPair kp = TestPki.ecKeys();
        X509Certificate leaf = TestPki.issue(intermediate, kp.getPublic(), TestPki.Spec.server(MX, MX));
        CertificateCheck good = check(new X509Certificate[] {leaf, intermediate.certificate(), ca.certificate()}, ta);
        assertNull(good.failureType(), good.detail());
    }

    @Test
    void aDaneTaKeyRecordNeedsNoCertificateOfTheAnchor() throws Exception {
        TLSARecord key = tlsa(2, 1, 0, ca.certificate().getPublicKey().getEncoded());
        CertificateCheck c = check(new X509Certificate[] {leaf(MX, null, null)}, key);
        assertNull(c.failureType(), c.detail());
        TestPki.Issued otherCa = TestPki.selfSignedCa("Another CA", Duration.ofDays(30));
        KeyPair kp = TestPki.ecKeys();
        X509Certificate foreign = TestPki.issue(otherCa, kp.getPublic(), TestPki.Spec.server(MX, MX));
        assertEquals(TlsResultType.TLSA_INVALID, check(new X509Certificate[] {foreign}, key).failureType());
    }

    @Test
    void onlyDaneUsagesSelectorsAndMatchingTypesAreUsable() {
        byte[] d = new byte[32];
        assertTrue(io.tlsgate.delivery.dane.Dane.usable(tlsa(3, 1, 1, d)));
        assertTrue(io.tlsgate.delivery.dane.Dane.usable(tlsa(2, 0, 2, new byte[64])));
        assertFalse(io.tlsgate.delivery.dane.Dane.usable(tlsa(1, 1, 1, d)), "PKIX-EE is unusable for SMTP");
        assertFalse(io.tlsgate.delivery.dane.Dane.usable(tlsa(0, 1, 1, d)), "PKIX-TA is unusable for SMTP");
        assertFalse(io.tlsgate.delivery.dane.Dane.usable(tlsa(3, 2, 1, d)), "unknown selector");
        assertFalse(io.tlsgate.delivery.dane.Dane.usable(tlsa(3, 1, 3, d)), "unknown matching type");
    }

    private static CertificateCheck check(X509Certificate[] chain, TLSARecord r) {
        return DaneCheck.of(new DaneRule("_25._tcp." + MX, List.of(r), false), chain, MX, DOMAIN);
    }

    private X509Certificate leaf(String name, Instant from, Instant to) {
        KeyPair kp = TestPki.ecKeys();
        TestPki.Spec spec = TestPki.Spec.server(name, name);
        if (from != null) {
            spec = spec.validity(from, to);
        }
        return TestPki.issue(ca, kp.getPublic(), spec);
    }

    private static TLSARecord tlsa(int usage, int selector, int matching, byte[] data) {
        return new TLSARecord(Name.fromConstantString("_25._tcp." + MX + "."), DClass.IN, 300, usage, selector, matching, data);
    }

    private static byte[] sha(String algorithm, byte[] data) throws Exception {
        return MessageDigest.getInstance(algorithm).digest(data);
    }
}
