package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.dns.MxResolver;
import io.tlsgate.testkit.HostileSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import io.tlsgate.testkit.TestDnsServer;
import io.tlsgate.testkit.TlsgateTestResources;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import io.tlsgate.platform.tls.PeerTrust;

/**
 * What a hostile DNS answer or remote host can make one domain's delivery cost: MX hosts and
 * connections are capped, one deadline covers the domain, MX answers pointing at this machine
 * are not followed, and replies are cut at their bounds however fast they stream. Real DNS
 * (a server on loopback) and real sockets.
 */
class HostileHostLimitsTest {

    private static final io.vertx.core.Vertx VERTX = io.vertx.core.Vertx.vertx();
    private static final DomainDelivery.Tls PLAIN = new DomainDelivery.Tls(OutboundTlsMode.NONE, PeerTrust.NONE, null);
    private static final SmtpDeliveryAttempt.Message MESSAGE = new SmtpDeliveryAttempt.Message(1, List.of(0),
            "a@example.com", List.of("b@hostile.test"), "Subject: x\r\n\r\nhi\r\n".getBytes(StandardCharsets.US_ASCII));

    @AfterAll
    static void closeVertx() {
        VERTX.close();
    }

    @Test
    void mxAnswersPointingAtThisMachineAreNotFollowedButRoutesMayNameAnyAddress() throws Exception {
        TestDnsServer dns = TlsgateTestResources.dns().mx("loops.hostile.test", 10, "mx1.loops.hostile.test")
                .mx("loops.hostile.test", 20, "mx2.loops.hostile.test").mx("loops.hostile.test", 30, "mx3.loops.hostile.test")
                .address("mx1.loops.hostile.test", "127.0.0.5").address("mx2.loops.hostile.test", "0.0.0.0")
                .address("mx3.loops.hostile.test", "::1");
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("loop", null).noStarttls(),
                InetAddress.getByName("127.0.0.5"), 0)) {
            DomainDelivery d = new DomainDelivery(VERTX, new MxResolver(Optional.of(dns.address())), peer.port(), () -> 1);
            DomainDelivery.Plan plan = d.plan("loops.hostile.test", List.of(), List.of(), true, null);
            assertTrue(plan.hops().stream().allMatch(h -> h.addresses().isEmpty()), plan.toString());
            DomainDelivery.Outcome o = d.deliver("loops.hostile.test", plan, PLAIN, "gateway.example", MESSAGE);
            assertFalse(o.delivered());
            assertTrue(o.attempts().isEmpty(), "no connection at all: " + o);
            assertTrue(o.error().contains("points at a local address") && o.error().contains("not used"), o.error());
            assertTrue(peer.received().isEmpty());

            DomainDelivery.Plan routed = d.plan("loops.hostile.test", List.of("[127.0.0.5]"), List.of(peer.port()), false, null);
            assertTrue(d.deliver("loops.hostile.test", routed, PLAIN, "gateway.example", MESSAGE).delivered(),
                    "an operator's route may name a loopback address");
            assertEquals(1, peer.received().size());
        }
    }

    @Test
    void onlyTheMostPreferredMxHostsAreTried() throws Exception {
        TestDnsServer dns = TlsgateTestResources.dns();
        for (int i = 1; i <= 8; i++) {
            dns.mx("many.hostile.test", i * 10, "mx" + i + ".many.hostile.test").address("mx" + i + ".many.hostile.test",
                    "127.0.2." + i);
        }
        DomainDelivery d = new DomainDelivery(VERTX, new MxResolver(Optional.of(dns.address())), deadPort(), new AtomicLong()
                ::incrementAndGet, new DomainDelivery.Limits(3, 10, Duration.ofMinutes(1), true, SmtpDeliveryAttempt.Timeouts.RFC_5321));
        DomainDelivery.Plan plan = d.plan("many.hostile.test", List.of(), List.of(), true, null);
        assertEquals(List.of("mx1.many.hostile.test", "mx2.many.hostile.test", "mx3.many.hostile.test"), plan.mxNames());
        DomainDelivery.Outcome o = d.deliver("many.hostile.test", plan, PLAIN, "gateway.example", MESSAGE);
        assertEquals(List.of("127.0.2.1", "127.0.2.2", "127.0.2.3"), o.attempts().stream().map(DomainDelivery.Tried::ip).toList());
    }

    @Test
    void connectionsPerDomainAreCapped() throws Exception {
        TestDnsServer dns = TlsgateTestResources.dns().mx("wide.hostile.test", 10, "mx.wide.hostile.test");
        for (int i = 1; i <= 12; i++) {
            dns.address("mx.wide.hostile.test", "127.0.3." + i);
        }
        DomainDelivery d = new DomainDelivery(VERTX, new MxResolver(Optional.of(dns.address())), deadPort(), new AtomicLong()
                ::incrementAndGet, new DomainDelivery.Limits(5, 4, Duration.ofMinutes(1), true, SmtpDeliveryAttempt.Timeouts.RFC_5321));
        DomainDelivery.Plan plan = d.plan("wide.hostile.test", List.of(), List.of(), true, null);
        assertEquals(12, plan.hops().get(0).addresses().size());
        DomainDelivery.Outcome o = d.deliver("wide.hostile.test", plan, PLAIN, "gateway.example", MESSAGE);
        assertEquals(4, o.attempts().size());
        assertTrue(o.error().startsWith("connection limit reached (4 per domain)"), o.error());
    }

    @Test
    void aTarpittingHostIsCutOffAtTheDomainDeadlineAndNoFurtherHostIsTried() throws Exception {
        HostileSmtpPeer.Behaviour tarpit = c -> {
            // A greeting that never ends, one continuation line every 300 ms: each line keeps
            // the connection alive, and no per-reply timer ever fires.
            while (true) {
                c.send("220-slowly\r\n");
                c.sleep(300);
            }
        };
        try (HostileSmtpPeer slow = new HostileSmtpPeer(null, tarpit)) {
            DomainDelivery d = new DomainDelivery(VERTX, new MxResolver(Optional.empty()), slow.port(), () -> 1,
                    new DomainDelivery.Limits(5, 10, Duration.ofSeconds(2), true, SmtpDeliveryAttempt.Timeouts.RFC_5321));
            DomainDelivery.Plan plan = d.plan("tarpit.hostile.test", List.of("[127.0.0.1]", "[127.0.0.1]"),
                    List.of(slow.port(), slow.port()), false, null);
            long start = System.nanoTime();
            DomainDelivery.Outcome o = d.deliver("tarpit.hostile.test", plan, PLAIN, "gateway.example", MESSAGE);
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertFalse(o.delivered());
            assertEquals(1, o.attempts().size(), "the second route host is not tried after the deadline: " + o);
            assertTrue(o.attempts().get(0).error().contains("the delivery deadline for tarpit.hostile.test passed"),
                    o.attempts().get(0).error());
            assertTrue(o.error().contains("deadline"), o.error());
            assertTrue(millis < 30_000, "cut off near the 2 s deadline, not after the 5 min reply timeout: " + millis + " ms");
        }
    }

    @Test
    void repliesStreamedAsFastAsThePeerCanAreCutAtTheirBound() throws Exception {
        long[] written = new long[2];
        for (int variant = 0; variant < 2; variant++) {
            int v = variant;
            try (HostileSmtpPeer flood = new HostileSmtpPeer(null, c -> {
                c.send("220 flood.test ESMTP\r\n");
                c.readLine();
                String piece = v == 0 ? "250-flooding the client with continuation lines\r\n".repeat(100)
                        : "x".repeat(4096); // one line that never ends
                if (v == 1) {
                    c.send("250 ");
                }
                try {
                    for (long i = 0; i < 1_000_000; i++) {
                        c.send(piece);
                        written[v] += piece.length();
                    }
                } catch (IOException cut) {
                    // the client closed the connection: what this test waits for
                }
            })) {
                IOException e = assertThrows(IOException.class, () -> new SmtpDeliveryAttempt(VERTX, 9).run(
                        new SmtpDeliveryAttempt.Target("127.0.0.1", flood.port(), "flood.test", "flood.test", List.of(), null,
                                OutboundTlsMode.NONE, PeerTrust.NONE, "gateway.example", null), MESSAGE));
                assertTrue(e.getMessage().contains(v == 0 ? "reply of more than 100 lines" : "reply line longer than 2048"),
                        e.getMessage());
            }
            // The flood stops when the client closes; what got out before is what the socket
            // buffers held, not a growing heap.
            assertTrue(written[v] < 64L * 1024 * 1024, "the peer kept writing: " + written[v] + " bytes");
        }
    }

    private static int deadPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
