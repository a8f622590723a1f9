package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.dns.MxResolver;
import io.tlsgate.platform.tls.TlsEngine;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import io.tlsgate.testkit.TestDnsServer;
import io.tlsgate.testkit.TestPki;
import io.tlsgate.testkit.TlsgateTestResources;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import io.tlsgate.platform.tls.PeerTrust;

/**
 * Connections to one server resume the TLS session of the first (the server signs once), and
 * the certificate is still checked on every resumed connection, against the anchors in force
 * at that connection.
 */
class TlsSessionResumptionTest {

    private static final io.vertx.core.Vertx VERTX = io.vertx.core.Vertx.vertx();

    @AfterAll
    static void closeVertx() {
        VERTX.close();
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(TlsEngine.class)
    void laterConnectionsResumeAndAreStillVerified(TlsEngine engine) throws Exception {
        TestPki.Issued root = TestPki.selfSignedCa("Resume Root", Duration.ofDays(2));
        TestPki.Issued otherRoot = TestPki.selfSignedCa("Other Root", Duration.ofDays(2));
        KeyPair keys = TestPki.ecKeys();
        X509Certificate leaf = TestPki.issue(root, keys.getPublic(), TestPki.Spec.server("mx.resume.test", "mx.resume.test"));
        CountingKeys serverKeys = new CountingKeys(
                (X509ExtendedKeyManager) TestPki.keyManagers(keys, leaf, root.certificate()).getKeyManagers()[0]);
        SSLContext serverTls = SSLContext.getInstance("TLS");
        serverTls.init(new KeyManager[] {serverKeys}, null, null);
        TestDnsServer dns = TlsgateTestResources.dns().mx("resume.test", 10, "mx.resume.test")
                .address("mx.resume.test", "127.0.0.1");
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("resume", serverTls))) {
            // No idle pool: every message needs a connection of its own.
            DomainDelivery d = new DomainDelivery(VERTX, new MxResolver(Optional.of(dns.address())), peer.port(),
                    new AtomicLong()::incrementAndGet, new DomainDelivery.Limits(5, 10, Duration.ofMinutes(15), true,
                            SmtpDeliveryAttempt.Timeouts.RFC_5321, Duration.ZERO, engine));
            DomainDelivery.Plan plan = d.plan("resume.test", List.of(), List.of(), true, null);
            DomainDelivery.Tls trusting = new DomainDelivery.Tls(OutboundTlsMode.REQUIRED_VERIFY, PeerTrust.of(List.of(root.certificate())), null);
            for (int i = 1; i <= 3; i++) {
                DomainDelivery.Outcome o = d.deliver("resume.test", plan, trusting, "gateway.example", message(i));
                assertTrue(o.delivered(), o.toString());
                assertEquals("success", o.last().verification().wire());
                assertTrue(o.last().log().stream().anyMatch(l -> l.contains("TLS verify success: mx.resume.test")),
                        o.last().log().toString());
            }
            assertEquals(3, peer.messagesPerConnection().size(), "three connections");
            assertEquals(1, serverKeys.signatures.get(), "one full handshake; the next two connections resumed its session");

            // The anchors change (cert-service's material was replaced): the resumed session's
            // certificate no longer leads to a trusted root, so the connection carries nothing.
            DomainDelivery.Tls distrusting = new DomainDelivery.Tls(OutboundTlsMode.REQUIRED_VERIFY,
                    PeerTrust.of(List.of(otherRoot.certificate())), null);
            DomainDelivery.Outcome refused = d.deliver("resume.test", plan, distrusting, "gateway.example", message(4));
            assertFalse(refused.delivered(), refused.toString());
            assertEquals("failure", refused.last().verification().wire());
            assertEquals("certificate-not-trusted", refused.last().resultType().wire());
            assertEquals(1, serverKeys.signatures.get(), "that connection resumed too");
            assertEquals(3, peer.received().size(), "nothing sent over the untrusted connection");
        }
    }

    private static SmtpDeliveryAttempt.Message message(long mid) {
        return new SmtpDeliveryAttempt.Message(mid, List.of(0), "a@example.com", List.of("b@resume.test"),
                ("Subject: " + mid + "\r\n\r\nhi\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    /** The server's key manager, counting the full handshakes that needed the private key. */
    private static final class CountingKeys extends X509ExtendedKeyManager {
        private final X509ExtendedKeyManager delegate;
        final AtomicInteger signatures = new AtomicInteger();

        CountingKeys(X509ExtendedKeyManager delegate) {
            this.delegate = delegate;
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            signatures.incrementAndGet();
            return delegate.getPrivateKey(alias);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return delegate.getCertificateChain(alias);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return delegate.chooseServerAlias(keyType, issuers, socket);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return delegate.chooseEngineServerAlias(keyType, issuers, engine);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return delegate.getServerAliases(keyType, issuers);
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return delegate.getClientAliases(keyType, issuers);
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return delegate.chooseClientAlias(keyType, issuers, socket);
        }
    }
}
