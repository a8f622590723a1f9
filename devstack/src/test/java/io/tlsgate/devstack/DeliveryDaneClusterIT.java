package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.awaitAttempt;
import static io.tlsgate.devstack.DeliveryCluster.daneZone;
import static io.tlsgate.devstack.DeliveryCluster.dns;
import static io.tlsgate.devstack.DeliveryCluster.enqueue;
import static io.tlsgate.devstack.DeliveryCluster.mailLog;
import static io.tlsgate.devstack.DeliveryCluster.mx;
import static io.tlsgate.devstack.DeliveryCluster.outcomeFor;
import static io.tlsgate.devstack.DeliveryCluster.smtpPort;
import static io.tlsgate.devstack.DeliveryCluster.spkiSha256;
import static io.tlsgate.devstack.DeliveryCluster.tlsaName;
import static io.tlsgate.devstack.DeliveryCluster.untrusted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.xbill.DNS.Type;

/**
 * DANE for SMTP (RFC 7672) in the {@link DeliveryCluster}: MX hosts under the DNSSEC-signed zone
 * {@code dane.test} (signed at test time; its key is delivery-service's trust anchor) publish
 * TLSA records; the destination entry for {@code .dane.test} says NONE, so every TLS
 * connection here is DANE's doing. Each case checks the delivery result, the mail log line and
 * the outcome event.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class DeliveryDaneClusterIT {

    private static final List<ScriptedSmtpPeer> PEERS = new ArrayList<>();

    @BeforeAll
    static void entries() throws Exception {
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\".dane.test\",\"tls\":\"NONE\",\"bounceProfile\":\"it\"}");
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\".plain-dane.test\",\"tls\":\"NONE\",\"bounceProfile\":\"it\"}");
    }

    @AfterAll
    static void down() throws Exception {
        ClusterApi.closeAll(PEERS.toArray(AutoCloseable[]::new));
        api().ok("DELETE", 8081, "/api/v1/destinations/.dane.test", null);
        api().ok("DELETE", 8081, "/api/v1/destinations/.plain-dane.test", null);
    }

    /** DANE-EE(3) SPKI SHA-256: a certificate for another name from an unknown CA is fine, TLS is mandatory. */
    @Test
    void daneEeMatchesTheServersKeyWhateverItsNameOrIssuer() throws Exception {
        String d = "ee.dane.test";
        TestPki.Issued self = untrusted("somewhere-else.example");
        ScriptedSmtpPeer peer = peer("127.0.1.80", self);
        mx(d, "127.0.1.80");
        tlsa(d, 3, 1, 1, spkiSha256(self.certificate().getPublicKey()));
        long mid = enqueue("sender@origin.test", "user@" + d, "X-Dane: ee");
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("DONE", m.get("state").asText(), m.toString());
        JsonNode tls = m.get("attempts").get(0).get("tls");
        assertEquals("REQUIRED_VERIFY", tls.get("mode").asText(), m.toString());
        assertEquals("dane TLSA " + tlsaName(d), tls.get("modeSource").asText(), m.toString());
        assertEquals("success", tls.get("verification").asText(), m.toString());
        assertTrue(peer.received().get(0).tls(), "DANE made TLS mandatory although the entry says NONE");
        assertTrue(mailLog().stream().anyMatch(l -> l.contains("TLS verify success: DANE TLSA " + tlsaName(d) + " 3 1 1 ")),
                "the matched record is in the mail log");
        JsonNode event = outcomeFor(d);
        assertEquals("dane TLSA " + tlsaName(d), event.at("/modeSource").asText(), event.toString());
        assertEquals("success", event.at("/verification").asText(), event.toString());
    }

    /**
     * DANE-TA(2) full certificate SHA-256: the server's chain ends in a CA nobody else trusts; the
     * leaf must name the MX host. A second domain's leaf from the same CA names another host:
     * tlsa-invalid.
     */
    @Test
    void daneTaMatchesAnIssuerOfTheChainAndTheLeafMustNameTheMxHost() throws Exception {
        TestPki.Issued ca = TestPki.selfSignedCa("Private DANE CA", Duration.ofDays(30));
        String d = "ta.dane.test";
        java.security.KeyPair kp = TestPki.ecKeys();
        X509Certificate leaf = TestPki.issue(ca, kp.getPublic(), TestPki.Spec.server("mx." + d, "mx." + d));
        ScriptedSmtpPeer peer = peer("127.0.1.81", new TestPki.Issued(kp, leaf), ca.certificate());
        mx(d, "127.0.1.81");
        tlsa(d, 2, 0, 1, MessageDigest.getInstance("SHA-256").digest(ca.certificate().getEncoded()));

        String wrong = "ta-name.dane.test";
        java.security.KeyPair kp2 = TestPki.ecKeys();
        X509Certificate other = TestPki.issue(ca, kp2.getPublic(), TestPki.Spec.server("mx.elsewhere.test", "mx.elsewhere.test"));
        ScriptedSmtpPeer misnamed = peer("127.0.1.82", new TestPki.Issued(kp2, other), ca.certificate());
        mx(wrong, "127.0.1.82");
        tlsa(wrong, 2, 0, 1, MessageDigest.getInstance("SHA-256").digest(ca.certificate().getEncoded()));

        long ok = enqueue("sender@origin.test", "user@" + d, "X-Dane: ta");
        long bad = enqueue("sender@origin.test", "user@" + wrong, "X-Dane: ta-name");
        JsonNode m = awaitAttempt(ok, Duration.ofSeconds(60));
        assertEquals("DONE", m.get("state").asText(), m.toString());
        assertEquals(1, peer.received().size());
        assertTrue(mailLog().stream().anyMatch(l -> l.contains("TLS verify success: DANE TLSA " + tlsaName(d) + " 2 0 1 ")
                && l.contains("name mx." + d)), "logged with the name that matched");

        JsonNode b = awaitAttempt(bad, Duration.ofSeconds(60));
        assertEquals("QUEUED", b.get("state").asText(), b.toString());
        assertEquals("tlsa-invalid", b.get("attempts").get(0).get("tls").get("failure").asText(), b.toString());
        assertEquals(0, misnamed.received().size(), "nothing sent to a host whose certificate does not name it");
        assertEquals("tlsa-invalid", outcomeFor(wrong).at("/resultType").asText(), "the event says so");
        assertEquals("dane TLSA " + tlsaName(d), outcomeFor(d).at("/modeSource").asText(), "the match's event names the records");
    }

    /** A usable record whose digest matches nothing: tlsa-invalid, nothing sent, the event says so. */
    @Test
    void aWrongDigestKeepsTheMailQueued() throws Exception {
        String d = "digest.dane.test";
        TestPki.Issued self = untrusted("mx." + d);
        ScriptedSmtpPeer peer = peer("127.0.1.83", self);
        mx(d, "127.0.1.83");
        byte[] wrong = spkiSha256(self.certificate().getPublicKey());
        wrong[0] ^= 1;
        tlsa(d, 3, 1, 1, wrong);
        long mid = enqueue("sender@origin.test", "user@" + d, "X-Dane: digest");
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("QUEUED", m.get("state").asText(), m.toString());
        JsonNode tls = m.get("attempts").get(0).get("tls");
        assertEquals("tlsa-invalid", tls.get("failure").asText(), m.toString());
        assertEquals(0, peer.received().size());
        assertTrue(mailLog().stream().anyMatch(l -> l.contains("TLS verify failed: tlsa-invalid: no TLSA record of " + tlsaName(d))),
                "logged");
        JsonNode event = outcomeFor(d);
        assertEquals("tlsa-invalid", event.at("/resultType").asText(), event.toString());
    }

    /** Bogus signature and expired RRSIG on the TLSA records: dnssec-invalid, the host is not even connected to. */
    @Test
    void aBogusOrExpiredSignatureKeepsTheHostFromBeingUsed() throws Exception {
        for (String kind : List.of("bogus", "expired")) {
            String d = kind + ".dane.test";
            TestPki.Issued self = untrusted("mx." + d);
            ScriptedSmtpPeer peer = peer(kind.equals("bogus") ? "127.0.1.84" : "127.0.1.85", self);
            mx(d, kind.equals("bogus") ? "127.0.1.84" : "127.0.1.85");
            tlsa(d, 3, 1, 1, spkiSha256(self.certificate().getPublicKey()));
            if (kind.equals("bogus")) {
                daneZone().bogus(tlsaName(d), Type.TLSA);
            } else {
                daneZone().expired(tlsaName(d), Type.TLSA);
            }
            long mid = enqueue("sender@origin.test", "user@" + d, "X-Dane: " + kind);
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("QUEUED", m.get("state").asText(), kind + ": " + m);
            JsonNode tls = m.get("attempts").get(0).get("tls");
            assertEquals("dnssec-invalid", tls.get("failure").asText(), kind + ": " + m);
            assertEquals(0, peer.commands().size(), kind + ": the host was not even greeted: " + peer.commands());
            assertTrue(mailLog().stream().anyMatch(l -> l.contains("TLS verify failed: dnssec-invalid: DANE: TLSA lookup of "
                    + tlsaName(d) + " failed: DNSSEC validation failed")), kind + ": logged");
            JsonNode event = outcomeFor(d);
            assertEquals("dnssec-invalid", event.at("/resultType").asText(), kind + ": " + event);
        }
    }

    /** An MX host in a zone that is not signed (outside every trust anchor): its TLSA records are not even asked for. */
    @Test
    void anMxHostInAnUnsignedZoneGetsNoDane() throws Exception {
        String d = "plain-dane.test";
        TestPki.Issued self = untrusted("mx." + d);
        ScriptedSmtpPeer peer = peer("127.0.1.86", self);
        mx(d, "127.0.1.86");
        tlsa(d, 3, 1, 1, new byte[32]); // would never match
        long mid = enqueue("sender@origin.test", "user@" + d, "X-Dane: insecure");
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("DONE", m.get("state").asText(), m.toString());
        assertEquals("NONE", m.get("attempts").get(0).get("tls").get("mode").asText(), m.toString());
        assertFalse(peer.received().get(0).tls(), "the entry's NONE holds: plaintext");
        JsonNode event = outcomeFor(d);
        assertEquals("not-attempted", event.at("/result").asText(), event.toString());
        assertEquals("NONE", event.at("/mode").asText(), event.toString());
        assertFalse(event.at("/modeSource").asText().startsWith("dane"), "the entry's mode, not DANE: " + event);
        assertTrue(mailLog().stream().noneMatch(l -> l.contains("TLSA " + tlsaName(d))), "no DANE line for it");
    }

    /**
     * DANE before MTA-STS (RFC 8461 §2): the domain also publishes an MTA-STS enforce policy that
     * names another MX host, and its MX host's certificate is from a CA nobody trusts, so under
     * MTA-STS alone the mail would wait. The host's usable TLSA record authenticates it: DANE
     * decides for it, and the mail is delivered.
     */
    @Test
    void daneComesBeforeMtaSts() throws Exception {
        String d = "both.dane.test";
        TestPki.Issued self = untrusted("mx." + d);
        ScriptedSmtpPeer peer = peer("127.0.1.79", self);
        mx(d, "127.0.1.79");
        tlsa(d, 3, 1, 1, spkiSha256(self.certificate().getPublicKey()));
        java.security.KeyPair kp = TestPki.ecKeys();
        X509Certificate hostCert = TestPki.issue(DeliveryCluster.root(), kp.getPublic(), TestPki.Spec.server("mta-sts." + d,
                "mta-sts." + d));
        try (io.tlsgate.testkit.TestHttpsServer policyHost = new io.tlsgate.testkit.TestHttpsServer("127.0.1.201",
                DeliveryCluster.stsPort(), TestPki.serverContext(kp, null, hostCert, DeliveryCluster.root().certificate()))) {
            dns().txt("_mta-sts." + d, "v=STSv1; id=1;").address("mta-sts." + d, "127.0.1.201");
            policyHost.respond("mta-sts." + d, "/.well-known/mta-sts.txt", io.tlsgate.testkit.TestHttpsServer.Response.text(
                    "version: STSv1\nmode: enforce\nmx: mail.elsewhere.test\nmax_age: 86400\n"));
            long mid = enqueue("sender@origin.test", "user@" + d, "X-Dane: both");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("DONE", m.get("state").asText(), m.toString());
            assertEquals("dane TLSA " + tlsaName(d), m.get("attempts").get(0).get("tls").get("modeSource").asText(), m.toString());
            assertTrue(policyHost.hits("mta-sts." + d) > 0, "the MTA-STS policy was there and fetched");
            assertEquals(1, peer.received().size());
        }
    }

    /**
     * The destination entry is a floor: REQUIRED_VERIFY stays in force next to a matching DANE-EE
     * record, so a certificate from an unknown CA fails its own check; and an entry that ignores DANE
     * (the escape hatch) delivers by its own rules although the TLSA records match nothing.
     */
    @Test
    void theEntryIsAFloorAndIgnoreDaneIsTheEscapeHatch() throws Exception {
        String floor = "floor.dane.test";
        TestPki.Issued self = untrusted("mx." + floor);
        ScriptedSmtpPeer untrustedPeer = peer("127.0.1.87", self);
        mx(floor, "127.0.1.87");
        tlsa(floor, 3, 1, 1, spkiSha256(self.certificate().getPublicKey()));
        String ignored = "ignored.dane.test";
        ScriptedSmtpPeer plain = peer("127.0.1.88", untrusted("mx." + ignored));
        mx(ignored, "127.0.1.88");
        tlsa(ignored, 3, 1, 1, new byte[32]);
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + floor + "\",\"tls\":\"REQUIRED_VERIFY\",\"bounceProfile\":\"it\"}");
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + ignored + "\",\"ignoreDane\":true,\"bounceProfile\":\"it\"}");
        try {
            long f = enqueue("sender@origin.test", "user@" + floor, "X-Dane: floor");
            long i = enqueue("sender@origin.test", "user@" + ignored, "X-Dane: ignored");
            JsonNode fm = awaitAttempt(f, Duration.ofSeconds(60));
            assertEquals("QUEUED", fm.get("state").asText(), fm.toString());
            JsonNode ft = fm.get("attempts").get(0).get("tls");
            assertEquals("REQUIRED_VERIFY", ft.get("mode").asText(), fm.toString());
            assertEquals("dane TLSA " + tlsaName(floor), ft.get("modeSource").asText(), "DANE applied: " + fm);
            assertEquals("certificate-not-trusted", ft.get("failure").asText(), fm.toString());
            assertTrue(mailLog().stream().noneMatch(l -> l.contains("TLS verify success: DANE TLSA " + tlsaName(floor))),
                    "the DANE match alone did not let it through");
            assertEquals(0, untrustedPeer.received().size());

            JsonNode im = awaitAttempt(i, Duration.ofSeconds(60));
            assertEquals("DONE", im.get("state").asText(), im.toString());
            assertEquals("NONE", im.get("attempts").get(0).get("tls").get("mode").asText(), im.toString());
            assertEquals(1, plain.received().size());
        } finally {
            api().ok("DELETE", 8081, "/api/v1/destinations/" + floor, null);
            api().ok("DELETE", 8081, "/api/v1/destinations/" + ignored, null);
        }
    }

    /**
     * Under a secure MX record set, a bogus AAAA answer (the A answer is fine) leaves DANE
     * unknown for the host: it is not used (RFC 7672 §2.2.1), rather than used without DANE.
     */
    @Test
    void aBogusAddressLookupKeepsTheHostFromBeingUsed() throws Exception {
        String d = "aaaa.dane.test";
        TestPki.Issued self = untrusted("mx." + d);
        ScriptedSmtpPeer peer = peer("127.0.1.89", self);
        mx(d, "127.0.1.89");
        dns().address("mx." + d, "2001:db8::25");
        daneZone().bogus("mx." + d, Type.AAAA);
        long mid = enqueue("sender@origin.test", "user@" + d, "X-Dane: aaaa");
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("QUEUED", m.get("state").asText(), m.toString());
        assertEquals("dnssec-invalid", m.get("attempts").get(0).get("tls").get("failure").asText(), m.toString());
        assertEquals(0, peer.commands().size(), "not even greeted without DANE: " + peer.commands());
    }

    private static void tlsa(String domain, int usage, int selector, int matching, byte[] data) {
        dns().tlsa(tlsaName(domain), usage, selector, matching, data);
    }

    private static ScriptedSmtpPeer peer(String ip, TestPki.Issued id) throws Exception {
        return start(ip, TestPki.serverContext(id.keys(), null, id.certificate()));
    }

    private static ScriptedSmtpPeer peer(String ip, TestPki.Issued id, X509Certificate ca) throws Exception {
        return start(ip, TestPki.serverContext(id.keys(), null, id.certificate(), ca));
    }

    private static ScriptedSmtpPeer start(String ip, javax.net.ssl.SSLContext ctx) throws Exception {
        ScriptedSmtpPeer p = new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("peer." + ip, ctx), InetAddress.getByName(ip),
                smtpPort());
        PEERS.add(p);
        return p;
    }

}
