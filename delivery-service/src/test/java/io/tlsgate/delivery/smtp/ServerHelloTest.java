package io.tlsgate.delivery.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.tlsgate.testkit.TestPki;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.security.KeyPair;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManager;
import org.junit.jupiter.api.Test;

/**
 * The key exchange read from real handshakes: a JDK client and server run TLS 1.3 and TLS 1.2
 * (ECDHE, DHE) in memory (the JDK's preferred groups: x25519, then ffdhe2048 for DHE), and the server's bytes are parsed as the TLS check reads them.
 */
class ServerHelloTest {

    @Test
    void tls13KeyShareGroup() throws Exception {
        assertEquals("x25519", handshake(TestPki.ecKeys(), "TLSv1.3", null));
    }

    @Test
    void tls12EcdheNamedCurve() throws Exception {
        assertEquals("x25519", handshake(TestPki.ecKeys(), "TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"));
    }

    @Test
    void tls12DheGroupSize() throws Exception {
        assertEquals("DHE 2048-bit", handshake(TestPki.rsaKeys(2048), "TLSv1.2", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"));
    }

    @Test
    void rsaKeyTransportAndNothingToRead() {
        assertEquals("RSA (no forward secrecy)", ServerHello.keyExchange(new byte[0], "TLSv1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256"));
        assertNull(ServerHello.keyExchange(new byte[0], "TLSv1.3", "TLS_AES_128_GCM_SHA256"));
        // a truncated record is no failure: nothing to tell
        assertNull(ServerHello.keyExchange(new byte[] {22, 3, 3, 0, 80, 2, 0, 0}, "TLSv1.3", "TLS_AES_128_GCM_SHA256"));
    }

    /** The key exchange the TLS check reads from the server's side of one handshake. */
    private static String handshake(KeyPair keys, String protocol, String suite) throws Exception {
        TestPki.Issued id = TestPki.selfSignedCa("server.test", Duration.ofDays(1));
        SSLContext serverCtx = TestPki.serverContext(keys, null, TestPki.issue(id, keys.getPublic(),
                TestPki.Spec.server("server.test", "server.test")));
        SSLContext clientCtx = SSLContext.getInstance("TLS");
        clientCtx.init(null, new TrustManager[] {TrustCheck.HANDSHAKE}, null);
        SSLEngine client = clientCtx.createSSLEngine("server.test", 25);
        client.setUseClientMode(true);
        SSLEngine server = serverCtx.createSSLEngine();
        server.setUseClientMode(false);
        for (SSLEngine e : new SSLEngine[] {client, server}) {
            SSLParameters p = e.getSSLParameters();
            p.setProtocols(new String[] {protocol});
            if (suite != null) {
                p.setCipherSuites(new String[] {suite});
            }
            e.setSSLParameters(p);
        }
        ByteArrayOutputStream fromServer = new ByteArrayOutputStream();
        run(client, server, fromServer);
        SSLSession s = client.getSession();
        assertEquals(protocol, s.getProtocol());
        return ServerHello.keyExchange(fromServer.toByteArray(), s.getProtocol(), s.getCipherSuite());
    }

    /** Drives both engines until the handshake is done, keeping every byte the server sent. */
    private static void run(SSLEngine client, SSLEngine server, ByteArrayOutputStream fromServer) throws Exception {
        int size = 1 << 17;
        ByteBuffer c2s = ByteBuffer.allocate(size);
        ByteBuffer s2c = ByteBuffer.allocate(size);
        ByteBuffer app = ByteBuffer.allocate(size);
        ByteBuffer none = ByteBuffer.allocate(0);
        client.beginHandshake();
        server.beginHandshake();
        for (int round = 0; round < 200; round++) {
            step(client, none, c2s, app);
            c2s.flip();
            int before = s2c.position();
            step(server, c2s, s2c, app);
            c2s.compact();
            fromServer.write(s2c.array(), before, s2c.position() - before);
            s2c.flip();
            step(client, s2c, c2s, app);
            s2c.compact();
            if (done(client) && done(server)) {
                return;
            }
        }
        throw new AssertionError("no handshake");
    }

    private static boolean done(SSLEngine e) {
        SSLEngineResult.HandshakeStatus h = e.getHandshakeStatus();
        return h == SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING || h == SSLEngineResult.HandshakeStatus.FINISHED;
    }

    private static void step(SSLEngine e, ByteBuffer in, ByteBuffer out, ByteBuffer app) throws Exception {
        for (int i = 0; i < 20; i++) {
            SSLEngineResult.HandshakeStatus h = e.getHandshakeStatus();
            if (h == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                Runnable t;
                while ((t = e.getDelegatedTask()) != null) {
                    t.run();
                }
            } else if (h == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
                e.wrap(ByteBuffer.allocate(0), out);
            } else if (h == SSLEngineResult.HandshakeStatus.NEED_UNWRAP && in.hasRemaining()) {
                SSLEngineResult r = e.unwrap(in, app);
                if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW) {
                    return;
                }
            } else {
                return;
            }
        }
    }
}
