package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.awaitAttempt;
import static io.tlsgate.devstack.DeliveryCluster.context;
import static io.tlsgate.devstack.DeliveryCluster.dns;
import static io.tlsgate.devstack.DeliveryCluster.enqueue;
import static io.tlsgate.devstack.DeliveryCluster.issued;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * REQUIRETLS and {@code TLS-Required: No} (RFC 8689) in the {@link DeliveryCluster}: a message
 * whose envelope says REQUIRETLS goes only over verified TLS (DANE here, or the entry's verify
 * mode) to a server that offers REQUIRETLS, with the parameter passed on; otherwise it is
 * returned with {@code 550 5.7.30}. A message with {@code TLS-Required: No} is delivered by
 * the destination controls alone, whatever the domain's TLSA records say.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class DeliveryRequireTlsClusterIT {

    private static final List<ScriptedSmtpPeer> PEERS = new ArrayList<>();

    @BeforeAll
    static void entries() throws Exception {
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\".rtls.dane.test\",\"tls\":\"NONE\",\"bounceProfile\":\"it\"}");
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\".rtls.test\",\"tls\":\"NONE\",\"bounceProfile\":\"it\"}");
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"verify.rtls.test\",\"tls\":\"REQUIRED_VERIFY\","
                + "\"bounceProfile\":\"it\"}");
    }

    @AfterAll
    static void down() throws Exception {
        ClusterApi.closeAll(PEERS.toArray(AutoCloseable[]::new));
        for (String key : List.of(".rtls.dane.test", ".rtls.test", "verify.rtls.test")) {
            api().ok("DELETE", 8081, "/api/v1/destinations/" + key, null);
        }
    }

    @Test
    void requireTlsGoesOverDaneToAServerThatOffersItAndPassesTheParameterOn() throws Exception {
        String d = "ok.rtls.dane.test";
        ScriptedSmtpPeer peer = danePeer("127.0.1.90", d).offerRequireTls();
        long mid = enqueue("sender@origin.test", List.of("user@" + d), "X-Rtls: ok", true);
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("DONE", m.get("state").asText(), m.toString());
        assertEquals("REQUIRE_TLS", m.get("tlsRequest").asText(), m.toString());
        assertEquals("REQUIRED_VERIFY", m.get("attempts").get(0).get("tls").get("mode").asText(), m.toString());
        assertTrue(peer.received().get(0).tls());
        assertTrue(peer.commands().contains("MAIL FROM:<sender@origin.test> REQUIRETLS"), "passed on: " + peer.commands());
    }

    @Test
    void aServerThatDoesNotOfferRequireTlsGetsNothingAndTheMessageIsReturned() throws Exception {
        String d = "no-offer.rtls.dane.test";
        ScriptedSmtpPeer peer = danePeer("127.0.1.91", d);
        long mid = enqueue("sender@origin.test", List.of("user@" + d), "X-Rtls: no-offer", true);
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        JsonNode r = m.get("recipients").get(0);
        assertEquals("BOUNCED", r.get("state").asText(), m.toString());
        assertTrue(r.get("lastReply").asText().startsWith("550 5.7.30 REQUIRETLS support required"), r.toString());
        assertEquals(0, peer.received().size());
        assertFalse(peer.commands().stream().anyMatch(c -> c.startsWith("MAIL")), "no MAIL FROM was sent: " + peer.commands());
        assertTrue(mailLog().stream().anyMatch(l -> l.contains("not sent: REQUIRETLS required and the server does not offer it")),
                "logged");
    }

    /**
     * An unsigned MX record set and no MTA-STS: nothing vouches for the MX host name, so
     * REQUIRETLS cannot be honoured even where the entry says REQUIRED_VERIFY (a forged MX with
     * a valid certificate for its own name would pass that); the host is not even connected
     * to, the message is returned and the refusal is an event. A DNSSEC-secure MX host without
     * TLSA records is fine: verified TLS for exactly its name.
     */
    @Test
    void withoutAnyVerifiedTlsTheHostIsNotUsedAndASecureMxNameIsEnough() throws Exception {
        String verify = "verify.rtls.test";
        ScriptedSmtpPeer unvouched = peer("127.0.1.93", issued(TestPki.Spec.server("mx." + verify, "mx." + verify)));
        unvouched.offerRequireTls();
        mx(verify, "127.0.1.93");
        String signed = "pkix.rtls.dane.test";
        ScriptedSmtpPeer pkix = peer("127.0.1.92", issued(TestPki.Spec.server("mx." + signed, "mx." + signed)));
        pkix.offerRequireTls();
        mx(signed, "127.0.1.92");
        long v = enqueue("sender@origin.test", List.of("user@" + verify), "X-Rtls: verify", true);
        long p = enqueue("sender@origin.test", List.of("user@" + signed), "X-Rtls: pkix", true);

        JsonNode vm = awaitAttempt(v, Duration.ofSeconds(60));
        JsonNode vr = vm.get("recipients").get(0);
        assertEquals("BOUNCED", vr.get("state").asText(), vm.toString());
        assertTrue(vr.get("lastReply").asText().startsWith("550 5.7.30 REQUIRETLS support required: REQUIRETLS: no verified TLS"),
                vr.toString());
        assertEquals(0, unvouched.commands().size(), "not even greeted: " + unvouched.commands());
        JsonNode event = outcomeFor(verify);
        assertEquals("failure", event.at("/result").asText(), event.toString());
        assertEquals("validation-failure", event.at("/resultType").asText(), event.toString());

        JsonNode pm = awaitAttempt(p, Duration.ofSeconds(60));
        assertEquals("DONE", pm.get("state").asText(), pm.toString());
        assertEquals("requiretls", pm.get("attempts").get(0).get("tls").get("modeSource").asText(), pm.toString());
        assertTrue(pkix.commands().contains("MAIL FROM:<sender@origin.test> REQUIRETLS"), pkix.commands().toString());
    }

    /** RFC 8689 §4.2.1: a first MX host that does not offer REQUIRETLS is left for the next one, which does. */
    @Test
    void aLaterMxHostThatOffersRequireTlsGetsTheMessage() throws Exception {
        String d = "second.rtls.dane.test";
        ScriptedSmtpPeer first = danePeer("127.0.1.98", d);
        ScriptedSmtpPeer second = danePeer("127.0.1.99", "mx2." + d).offerRequireTls();
        dns().mx(d, 20, "mx.mx2." + d);
        long mid = enqueue("sender@origin.test", List.of("user@" + d), "X-Rtls: second", true);
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("DONE", m.get("state").asText(), m.toString());
        assertEquals(0, first.received().size());
        assertEquals(1, second.received().size(), m.toString());
    }

    /** TLS-Required: No: the TLSA records (which match nothing) are not applied; the entry's NONE is. */
    @Test
    void tlsRequiredNoDeliversByTheDestinationControlsAlone() throws Exception {
        String d = "optional.rtls.dane.test";
        TestPki.Issued id = untrusted("mx." + d);
        ScriptedSmtpPeer peer = start("127.0.1.94", TestPki.serverContext(id.keys(), null, id.certificate()));
        mx(d, "127.0.1.94");
        dns().tlsa(tlsaName(d), 3, 1, 1, new byte[32]);
        long optional = enqueue("sender@origin.test", List.of("user@" + d), "TLS-Required: No", false);
        JsonNode m = awaitAttempt(optional, Duration.ofSeconds(60));
        assertEquals("DONE", m.get("state").asText(), m.toString());
        assertEquals("TLS_OPTIONAL", m.get("tlsRequest").asText(), m.toString());
        assertEquals("NONE", m.get("attempts").get(0).get("tls").get("mode").asText(), m.toString());
        assertFalse(peer.received().get(0).tls(), "plaintext, as the entry says");
        long normal = enqueue("sender@origin.test", List.of("user@" + d), "X-Rtls: normal", false);
        JsonNode n = awaitAttempt(normal, Duration.ofSeconds(60));
        assertEquals("QUEUED", n.get("state").asText(), "without the header DANE holds the mail: " + n);
        assertEquals("tlsa-invalid", n.get("attempts").get(0).get("tls").get("failure").asText(), n.toString());
    }

    /** A peer at {@code ip} for {@code domain} whose key its (signed) TLSA record names: DANE-EE. */
    private static ScriptedSmtpPeer danePeer(String ip, String domain) throws Exception {
        TestPki.Issued id = untrusted("mx." + domain);
        ScriptedSmtpPeer p = start(ip, TestPki.serverContext(id.keys(), null, id.certificate()));
        mx(domain, ip);
        dns().tlsa(tlsaName(domain), 3, 1, 1, spkiSha256(id.certificate().getPublicKey()));
        return p;
    }

    /** A peer whose certificate (from the root cert-service trusts) is {@code id}. */
    private static ScriptedSmtpPeer peer(String ip, TestPki.Issued id) throws Exception {
        return start(ip, context(id, false));
    }

    private static ScriptedSmtpPeer start(String ip, javax.net.ssl.SSLContext ctx) throws Exception {
        ScriptedSmtpPeer p = new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("peer." + ip, ctx), InetAddress.getByName(ip),
                smtpPort());
        PEERS.add(p);
        return p;
    }
}
