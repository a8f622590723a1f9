package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.dns.MxResolver;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import io.tlsgate.testkit.TestDnsServer;
import io.tlsgate.testkit.TestPki;
import io.tlsgate.testkit.TlsgateTestResources;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import io.tlsgate.platform.tls.PeerTrust;

/** MX order, failover to the next host on TLS and connection failures, null MX, implicit MX, over DNS and sockets. */
class DomainDeliveryTest {

    private static final io.vertx.core.Vertx VERTX = io.vertx.core.Vertx.vertx();

    @org.junit.jupiter.api.AfterAll
    static void closeVertx() {
        VERTX.close();
    }

    /** The tests' MX hosts listen on loopback addresses. */
    static final DomainDelivery.Limits LOOPBACK_MX = new DomainDelivery.Limits(5, 10, Duration.ofMinutes(15), true,
            SmtpDeliveryAttempt.Timeouts.RFC_5321);

    private static final SmtpDeliveryAttempt.Message MESSAGE = new SmtpDeliveryAttempt.Message(1, List.of(0), "a@example.com",
            List.of("b@failover.test"), "Subject: x\r\n\r\nhi\r\n".getBytes(StandardCharsets.US_ASCII));

    @Test
    void aTlsFailureOnTheFirstMxMovesOnToTheNext() throws Exception {
        TestPki.Issued root = TestPki.selfSignedCa("Failover Root", Duration.ofDays(30));
        KeyPair kp = TestPki.ecKeys();
        X509Certificate leaf = TestPki.issue(root, kp.getPublic(), TestPki.Spec.server("mx2.failover.test", "mx2.failover.test"));
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.2"))) {
            port = probe.getLocalPort();
        }
        TestDnsServer dns = TlsgateTestResources.dns()
                .mx("failover.test", 10, "mx1.failover.test").mx("failover.test", 20, "mx2.failover.test")
                .mx("failover.test", 5, "mx0.failover.test")
                .address("mx0.failover.test", "127.0.0.4")
                .address("mx1.failover.test", "127.0.0.2").address("mx2.failover.test", "127.0.0.3");
        try (ScriptedSmtpPeer mx1 = new ScriptedSmtpPeer(Script.tls("mx1", null).noStarttls(),
                InetAddress.getByName("127.0.0.2"), port);
                ScriptedSmtpPeer mx2 = new ScriptedSmtpPeer(Script.tls("mx2", TestPki.serverContext(kp, null, leaf, root.certificate())),
                        InetAddress.getByName("127.0.0.3"), port)) {
            AtomicLong dcid = new AtomicLong();
            DomainDelivery d = new DomainDelivery(VERTX, new MxResolver(Optional.of(dns.address())), port, dcid::incrementAndGet,
                    LOOPBACK_MX);
            DomainDelivery.Plan plan = d.plan("failover.test", List.of(), List.of(), true, null);
            assertEquals(List.of("mx0.failover.test", "mx1.failover.test", "mx2.failover.test"), plan.mxNames());
            DomainDelivery.Outcome o = d.deliver("failover.test", plan,
                    new DomainDelivery.Tls(OutboundTlsMode.REQUIRED_VERIFY, PeerTrust.of(List.of(root.certificate())), null), "gateway.example",
                    MESSAGE);
            assertTrue(o.delivered(), o.toString());
            // mx0 (preference 5) has nobody listening: a connection error; mx1 has no STARTTLS; mx2 works.
            assertEquals(3, o.attempts().size(), "a connection error, then two SMTP sessions: mx1 refused TLS, mx2 delivered");
            assertTrue(o.attempts().get(0).error().startsWith("Connection Error: DCID 1 domain: failover.test IP: 127.0.0.4"),
                    o.attempts().get(0).error());
            assertEquals(Action.TEMPFAIL, o.attempts().get(1).result().action());
            assertTrue(o.last().encrypted());
            assertTrue(mx1.received().isEmpty(), "nothing sent in plaintext under REQUIRED_VERIFY");
            assertEquals(1, mx2.received().size());
            assertTrue(o.last().log().stream().anyMatch(l -> l.contains("TLS verify success: mx2.failover.test")), o.last().log()
                    .toString());
        }
    }

    @Test
    void aBacklogOf200GoesOverFourConnectionsOf50() throws Exception {
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("backlog", null).noStarttls())) {
            DomainDelivery d = new DomainDelivery(VERTX, new MxResolver(Optional.empty()), peer.port(), new AtomicLong()
                    ::incrementAndGet, LOOPBACK_MX);
            DomainDelivery.Plan plan = d.plan("backlog.test", List.of("[127.0.0.1]"), List.of(peer.port()), false, null);
            List<SmtpDeliveryAttempt.Message> messages = java.util.stream.LongStream.rangeClosed(1, 200)
                    .mapToObj(mid -> new SmtpDeliveryAttempt.Message(mid, List.of(0), "a@example.com",
                            List.of("u" + mid + "@backlog.test"), ("Subject: " + mid + "\r\n\r\nhi\r\n")
                                    .getBytes(StandardCharsets.US_ASCII))).toList();
            DomainDelivery.Outcome o = d.deliver("backlog.test", plan, (h, a) -> new DomainDelivery.Tls(OutboundTlsMode.NONE,
                    PeerTrust.NONE, null), "gateway.example", messages, 50);
            assertEquals(4, o.attempts().size(), "four connections");
            assertEquals(List.of(50, 50, 50, 50), peer.messagesPerConnection());
            for (long mid = 1; mid <= 200; mid++) {
                assertTrue(o.of(mid).delivered(), "MID " + mid);
                assertEquals(1, o.of(mid).attempts().size(), "MID " + mid + " went on one connection");
            }
        }
    }

    @Test
    void nullMxAndNoMx() throws Exception {
        TestDnsServer dns = TlsgateTestResources.dns().mx("nullmx.failover.test", 0, ".")
                .address("nomx.failover.test", "127.0.0.9");
        MxResolver r = new MxResolver(Optional.of(dns.address()));
        MxResolver.Answer nullMx = r.resolve("nullmx.failover.test");
        assertTrue(nullMx.nullMx());
        assertTrue(nullMx.hosts().isEmpty());
        MxResolver.Answer noMx = r.resolve("nomx.failover.test");
        assertEquals(List.of("nomx.failover.test"), noMx.hosts().stream().map(MxResolver.Host::name).toList());
        assertEquals("127.0.0.9", noMx.hosts().get(0).addresses().get(0).getHostAddress());
        MxResolver.Answer missing = r.resolve("missing.failover.test");
        assertTrue(missing.error().contains("does not exist"), missing.error());
        DomainDelivery d = new DomainDelivery(VERTX, r, 25, () -> 1);
        DomainDelivery.Plan plan = d.plan("nullmx.failover.test", List.of(), List.of(), true, null);
        assertTrue(plan.permanent(), "null MX: the recipients bounce at once");
        assertFalse(d.deliver("nullmx.failover.test", plan, new DomainDelivery.Tls(OutboundTlsMode.NONE, PeerTrust.NONE, null),
                "gateway.example", MESSAGE).delivered());
        assertTrue(d.plan("missing.failover.test", List.of(), List.of(), true, null).permanent(), "no such domain");
        DomainDelivery.Plan routed = d.plan("nullmx.failover.test", List.of("[127.0.0.9]"), List.of(2526), false, null);
        assertEquals(1, routed.hops().size(), "a route with use_dns off: its hosts only");
        assertEquals(2526, routed.hops().get(0).port());
    }

}
