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
import static io.tlsgate.devstack.DeliveryCluster.root;
import static io.tlsgate.devstack.DeliveryCluster.smtpPort;
import static io.tlsgate.devstack.DeliveryCluster.stsPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.TestHttpsServer;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * MTA-STS (RFC 8461) in the {@link DeliveryCluster}: destinations whose entry says NONE
 * publish a policy (TXT record in the test DNS, policy on an HTTPS host on loopback with a
 * certificate from the root cert-service trusts). {@code enforce} raises the connection to
 * REQUIRED_VERIFY against the MX host name and uses only MX hosts the policy names;
 * {@code testing} checks a PREFERRED connection's certificate but delivers; a policy that cannot be fetched changes nothing and
 * is logged with its RFC 8460 type.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class DeliveryMtaStsClusterIT {

    private static final String PATH = "/.well-known/mta-sts.txt";
    private static final List<String> DOMAINS = List.of("enforce-ok.sts.test", "enforce-mx.sts.test", "enforce-cert.sts.test",
            "testing-cert.sts.test", "fetch-fails.sts.test", "enforce-many.sts.test");
    private static TestHttpsServer policyHost;
    private static final List<ScriptedSmtpPeer> PEERS = new ArrayList<>();

    @BeforeAll
    static void policyHost() throws Exception {
        KeyPair kp = TestPki.ecKeys();
        String[] names = DOMAINS.stream().map(d -> "mta-sts." + d).toArray(String[]::new);
        X509Certificate cert = TestPki.issue(root(), kp.getPublic(), TestPki.Spec.server(names[0], names));
        policyHost = new TestHttpsServer("127.0.1.200", stsPort(), TestPki.serverContext(kp, null, cert, root().certificate()));
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\".sts.test\",\"tls\":\"NONE\",\"bounceProfile\":\"it\"}");
    }

    @AfterAll
    static void down() throws Exception {
        List<AutoCloseable> all = new ArrayList<>(PEERS);
        all.add(policyHost);
        ClusterApi.closeAll(all.toArray(AutoCloseable[]::new));
        api().ok("DELETE", 8081, "/api/v1/destinations/.sts.test", null);
    }

    @Test
    void enforceDeliversOnlyOverTlsWithACertificateForTheMxHost() throws Exception {
        String d = "enforce-ok.sts.test";
        ScriptedSmtpPeer peer = peer("127.0.1.60", "mx." + d);
        mx(d, "127.0.1.60");
        publish(d, "enforce", "mx." + d);
        long mid = enqueue("sender@origin.test", "user@" + d, "X-Sts: enforce-ok");
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("DONE", m.get("state").asText(), m.toString());
        JsonNode tls = m.get("attempts").get(0).get("tls");
        assertEquals("REQUIRED_VERIFY", tls.get("mode").asText(), m.toString());
        assertEquals("mta-sts enforce id 1", tls.get("modeSource").asText(), m.toString());
        assertEquals("success", tls.get("verification").asText(), m.toString());
        assertTrue(peer.received().get(0).tls(), "delivered over TLS although the entry says NONE");
        assertTrue(mailLog().stream().anyMatch(l -> l.startsWith("MTA-STS policy of " + d + " fetched: id 1, mode enforce")),
                "the fetch is in the mail log");
    }

    @Test
    void enforceUsesNoMxHostThePolicyDoesNotName() throws Exception {
        String d = "enforce-mx.sts.test";
        ScriptedSmtpPeer peer = peer("127.0.1.61", "mx." + d);
        mx(d, "127.0.1.61");
        publish(d, "enforce", "mail.elsewhere.test");
        long mid = enqueue("sender@origin.test", "user@" + d, "X-Sts: enforce-mx");
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("QUEUED", m.get("state").asText(), m.toString());
        String reply = m.get("recipients").get(0).get("lastReply").asText();
        assertTrue(reply.startsWith("451 4.4.3 MTA-STS policy of " + d + " (mta-sts enforce id 1) names none of its MX hosts"),
                reply);
        assertEquals(0, peer.received().size(), "nothing went to an MX host outside the policy");
        assertTrue(mailLog().stream().anyMatch(l -> l.contains("MTA-STS " + d + ": mta-sts enforce id 1: MX host(s) [mx." + d
                + "] not named by the policy's mx [mail.elsewhere.test]: not used")), "logged");
    }

    /**
     * Five MX hosts the policy does not name ahead of the one it does: the policy filters before
     * the MX host limit (5) applies, so the sixth is tried, and none of the others.
     */
    @Test
    void enforceFindsTheNamedMxBehindFiveOthers() throws Exception {
        String d = "enforce-many.sts.test";
        ScriptedSmtpPeer other = peer("127.0.1.67", "mx0." + d);
        for (int i = 0; i < 5; i++) {
            dns().mx(d, 10 + i, "mx" + i + "." + d).address("mx" + i + "." + d, "127.0.1.67");
        }
        ScriptedSmtpPeer named = peer("127.0.1.66", "mx5." + d);
        dns().mx(d, 20, "mx5." + d).address("mx5." + d, "127.0.1.66");
        publish(d, "enforce", "mx5." + d);
        long mid = enqueue("sender@origin.test", "user@" + d, "X-Sts: enforce-many");
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("DONE", m.get("state").asText(), m.toString());
        assertEquals("mx5." + d, m.get("attempts").get(0).get("host").asText(), m.toString());
        assertEquals(1, named.received().size());
        assertEquals(0, other.commands().size(), "no MX host outside the policy was even greeted: " + other.commands());
    }

    @Test
    void enforceRefusesACertificateForAnotherHostAndTestingOnlyReportsIt() throws Exception {
        String enforced = "enforce-cert.sts.test";
        ScriptedSmtpPeer wrong = peer("127.0.1.62", "other.test");
        mx(enforced, "127.0.1.62");
        publish(enforced, "enforce", "mx." + enforced);
        String tested = "testing-cert.sts.test";
        ScriptedSmtpPeer wrong2 = peer("127.0.1.63", "other.test");
        mx(tested, "127.0.1.63");
        publish(tested, "testing", "mx." + tested);

        // testing checks the certificate of a PREFERRED connection (a NONE one stays in plaintext).
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + tested + "\",\"tls\":\"PREFERRED\",\"bounceProfile\":\"it\"}");
        long m1 = enqueue("sender@origin.test", "user@" + enforced, "X-Sts: enforce-cert");
        long m2 = enqueue("sender@origin.test", "user@" + tested, "X-Sts: testing-cert");
        JsonNode e = awaitAttempt(m1, Duration.ofSeconds(60));
        assertEquals("QUEUED", e.get("state").asText(), e.toString());
        JsonNode et = e.get("attempts").get(0).get("tls");
        assertEquals("REQUIRED_VERIFY", et.get("mode").asText());
        assertEquals("certificate-host-mismatch", et.get("failure").asText(), e.toString());
        assertEquals(0, wrong.received().size(), "nothing sent to a host that is not the MX the certificate should name");
        JsonNode event = outcomeFor(enforced);
        assertEquals("certificate-host-mismatch", event.at("/resultType").asText(event.toString()), event.toString());
        assertEquals("mta-sts enforce id 1", event.at("/modeSource").asText(event.toString()), event.toString());

        JsonNode t = awaitAttempt(m2, Duration.ofSeconds(60));
        assertEquals("DONE", t.get("state").asText(), t.toString());
        JsonNode tt = t.get("attempts").get(0).get("tls");
        assertEquals("PREFERRED_VERIFY", tt.get("mode").asText(), t.toString());
        assertEquals("mta-sts testing id 1", tt.get("modeSource").asText(), t.toString());
        assertEquals("failure", tt.get("verification").asText(), t.toString());
        assertEquals(1, wrong2.received().size(), "testing: delivered anyway, over TLS");
        assertTrue(wrong2.received().get(0).tls());
        api().ok("DELETE", 8081, "/api/v1/destinations/" + tested, null);
    }

    @Test
    void aPolicyThatCannotBeFetchedChangesNothingAndIsLogged() throws Exception {
        String d = "fetch-fails.sts.test";
        ScriptedSmtpPeer peer = peer("127.0.1.64", "mx." + d);
        mx(d, "127.0.1.64");
        dns().txt("_mta-sts." + d, "v=STSv1; id=1;").address("mta-sts." + d, "127.0.1.200"); // 404 there
        long mid = enqueue("sender@origin.test", "user@" + d, "X-Sts: fetch-fails");
        JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
        assertEquals("DONE", m.get("state").asText(), m.toString());
        assertEquals("NONE", m.get("attempts").get(0).get("tls").get("mode").asText(), m.toString());
        assertEquals(1, peer.received().size());
        assertTrue(mailLog().stream().anyMatch(l -> l.startsWith("MTA-STS policy of " + d
                + " not usable (sts-policy-fetch-error)")), "logged with its RFC 8460 type");
    }

    @Test
    void anEntryThatIgnoresMtaStsKeepsToItsOwnRules() throws Exception {
        String d = "ignored.sts.test";
        ScriptedSmtpPeer peer = peer("127.0.1.65", "mx." + d);
        mx(d, "127.0.1.65");
        publish(d, "enforce", "mail.elsewhere.test");
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + d + "\",\"ignoreMtaSts\":true,\"bounceProfile\":\"it\"}");
        try {
            long mid = enqueue("sender@origin.test", "user@" + d, "X-Sts: ignored");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("DONE", m.get("state").asText(), m.toString());
            assertEquals("NONE", m.get("attempts").get(0).get("tls").get("mode").asText(), m.toString());
            assertEquals(1, peer.received().size(), "delivered to the MX the policy does not name");
            assertEquals(0, policyHost.hits("mta-sts." + d), "the policy is not even fetched");
        } finally {
            api().ok("DELETE", 8081, "/api/v1/destinations/" + d, null);
        }
    }

    private static void publish(String domain, String mode, String mx) {
        dns().txt("_mta-sts." + domain, "v=STSv1; id=1;").address("mta-sts." + domain, "127.0.1.200");
        policyHost.respond("mta-sts." + domain, PATH, TestHttpsServer.Response.text("version: STSv1\nmode: " + mode + "\nmx: " + mx
                + "\nmax_age: 86400\n"));
    }

    /** A peer on {@code ip} whose certificate (from the trusted root) names {@code name}. */
    private static ScriptedSmtpPeer peer(String ip, String name) throws Exception {
        ScriptedSmtpPeer p = new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls(name, context(issued(TestPki.Spec.server(name, name)),
                false)), InetAddress.getByName(ip), smtpPort());
        PEERS.add(p);
        return p;
    }
}
