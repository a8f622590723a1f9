package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.testkit.HostileSmtpPeer;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import io.tlsgate.platform.tls.PeerTrust;

/**
 * STARTTLS to a next hop named by an address (an SMTP route such as {@code 192.0.2.25} or
 * {@code [2001:db8::25]}): RFC 6066 allows no SNI for address literals, so none is sent and
 * the handshake works; host names are sent as SNI.
 */
class AddressLiteralTlsTest {

    private static final io.vertx.core.Vertx VERTX = io.vertx.core.Vertx.vertx();

    @AfterAll
    static void closeVertx() {
        VERTX.close();
    }

    @ParameterizedTest
    @CsvSource({"127.0.0.1, 127.0.0.1, ''", "127.0.0.1, [127.0.0.1], ''", "::1, [::1], ''", "::1, [IPv6:::1], ''",
        "127.0.0.1, mx.peer.test, mx.peer.test", "127.0.0.1, mx.peer.test., mx.peer.test"})
    void tlsToAnAddressLiteralSendsNoSni(String bind, String hopName, String expectedSni) throws Exception {
        TestPki.Issued root = TestPki.selfSignedCa("Literal Root", Duration.ofDays(2));
        KeyPair keys = TestPki.ecKeys();
        SSLContext tls = TestPki.serverContext(keys, null, TestPki.issue(root, keys.getPublic(),
                TestPki.Spec.server("mx.peer.test", "mx.peer.test")), root.certificate());
        try (HostileSmtpPeer peer = new HostileSmtpPeer(InetAddress.getByName(bind), tls, c -> {
            c.send("220 peer.test ESMTP\r\n");
            c.readLine();
            c.send("250-peer.test\r\n250 STARTTLS\r\n");
            c.readLine();
            c.send("220 2.0.0 Ready\r\n");
            c.startTls();
            StarttlsInjectionTest.serve(c);
        })) {
            SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt(VERTX, 5).run(
                    new SmtpDeliveryAttempt.Target(InetAddress.getByName(bind).getHostAddress(), peer.port(), hopName,
                            "peer.test", List.of(), null, OutboundTlsMode.REQUIRED, PeerTrust.NONE, "gateway.example", null),
                    new SmtpDeliveryAttempt.Message(5, List.of(0), "a@example.com", List.of("b@peer.test"),
                            "x\r\n".getBytes(StandardCharsets.US_ASCII)));
            assertTrue(r.delivered() && r.encrypted(), r.toString());
            assertEquals(expectedSni.isEmpty() ? List.of() : List.of(expectedSni), peer.connections().get(0).serverNames());
        }
    }

    @Test
    void sniNamesOnlyHosts() {
        assertNull(SmtpDeliveryAttempt.sniName("192.0.2.25"));
        assertNull(SmtpDeliveryAttempt.sniName("[192.0.2.25]"));
        assertNull(SmtpDeliveryAttempt.sniName("[IPv6:2001:db8::25]"));
        assertNull(SmtpDeliveryAttempt.sniName("2001:db8::25"));
        assertEquals("mx1.example.com", SmtpDeliveryAttempt.sniName("mx1.example.com"));
        assertEquals("mx1.example.com", SmtpDeliveryAttempt.sniName("mx1.example.com."));
    }
}
