package io.tlsgate.platform.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.TestPki;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An identity from files (as cert-manager mounts them): read at start, re-read when the files
 * change, and presented from the next real TLS handshake on without a restart; files that
 * cannot be used leave the running identity alone.
 */
class InternalIdentityFilesTest {

    @TempDir
    Path dir;

    @Test
    void aRewrittenIdentityIsPresentedFromTheNextHandshakeWithoutARestart() throws Exception {
        TestPki.Issued ca = TestPki.selfSignedCa("test internal CA", Duration.ofDays(1));
        Files.writeString(dir.resolve("ca.crt"), ca.certificatePem());
        BigInteger first = write(ca, "policy-service");
        IdentityState state = new IdentityState();
        InternalIdentity id = new InternalIdentity("policy-service", config(), (IdentityIssuer) null, state);
        try {
            // One server and one client context for the whole test, as a running service has.
            SSLContext server = SSLContext.getInstance("TLS");
            server.init(new KeyManager[] {state.keyManager()}, new TrustManager[] {state.clientTrust()}, null);
            SSLContext client = SSLContext.getInstance("TLS");
            client.init(null, new TrustManager[] {state.serverTrust("policy-service")}, null);
            assertEquals(first, servedSerial(server, client));

            BigInteger second = write(ca, "policy-service");
            awaitSerial(id, second);
            assertEquals(second, servedSerial(server, client), "the new certificate in the next handshake");

            // A half-written or wrong file is not taken: the running identity stays.
            String marker = "PRIVATE" + " KEY-----"; // not a key: no scanner should take this file for one
            Files.writeString(dir.resolve("tls.key"), "-----BEGIN " + marker + "\nbm90IGEga2V5\n-----END " + marker + "\n");
            Thread.sleep(500);
            assertEquals(second, id.current().leaf().getSerialNumber());
            assertEquals(second, servedSerial(server, client));
        } finally {
            id.stop(null);
        }
    }

    @Test
    void filesNamingAnotherServiceOrFromAnotherCaAreRefusedAtStart() throws Exception {
        TestPki.Issued ca = TestPki.selfSignedCa("test internal CA", Duration.ofDays(1));
        Files.writeString(dir.resolve("ca.crt"), ca.certificatePem());
        write(ca, "policy-service");
        IllegalStateException other = assertThrows(IllegalStateException.class,
                () -> new InternalIdentity("delivery-service", config(), (IdentityIssuer) null, new IdentityState()));
        assertTrue(other.getMessage().contains("is the identity of policy-service, not of delivery-service"), other.getMessage());

        write(TestPki.selfSignedCa("another CA", Duration.ofDays(1)), "policy-service");
        IllegalStateException foreign = assertThrows(IllegalStateException.class,
                () -> new InternalIdentity("policy-service", config(), (IdentityIssuer) null, new IdentityState()));
        assertTrue(foreign.getMessage().contains("not trusted by the internal CA"), foreign.getMessage());
    }

    /** Writes a new key and certificate for {@code service} issued by {@code ca}; returns its serial. */
    private BigInteger write(TestPki.Issued ca, String service) throws Exception {
        KeyPair keys = TestPki.ecKeys();
        X509Certificate cert = TestPki.issue(ca, keys.getPublic(),
                TestPki.Spec.server(service, "URI:" + ServiceIdentity.uri(service), service));
        Files.writeString(dir.resolve("tls.key"), TestPki.pem(new JcaPKCS8Generator(keys.getPrivate(), null)));
        Files.writeString(dir.resolve("tls.crt"), TestPki.pem(cert));
        return cert.getSerialNumber();
    }

    private static void awaitSerial(InternalIdentity id, BigInteger serial) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!id.current().leaf().getSerialNumber().equals(serial)) {
            assertTrue(System.nanoTime() < deadline, "the rewritten files were not picked up");
            Thread.sleep(50);
        }
    }

    /** The serial of the certificate {@code server} presents in a new handshake, seen by {@code client}. */
    private static BigInteger servedSerial(SSLContext server, SSLContext client) throws Exception {
        try (SSLServerSocket ss = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 1,
                InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> accepted = CompletableFuture.runAsync(() -> {
                try (SSLSocket s = (SSLSocket) ss.accept()) {
                    s.startHandshake();
                    s.getOutputStream().write(1);
                    s.getOutputStream().flush();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try (SSLSocket c = (SSLSocket) client.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), ss.getLocalPort())) {
                c.startHandshake();
                assertEquals(1, c.getInputStream().read());
                accepted.join();
                return ((X509Certificate) c.getSession().getPeerCertificates()[0]).getSerialNumber();
            }
        }
    }

    private InternalTlsConfig config() {
        return new InternalTlsConfig() {
            @Override
            public Source source() {
                return Source.FILES;
            }

            @Override
            public String certService() {
                return "localhost:1";
            }

            @Override
            public Map<String, String> enrollmentTokens() {
                return Map.of();
            }

            @Override
            public Optional<Path> certFile() {
                return Optional.of(dir.resolve("tls.crt"));
            }

            @Override
            public Optional<Path> keyFile() {
                return Optional.of(dir.resolve("tls.key"));
            }

            @Override
            public Optional<Path> caFile() {
                return Optional.of(dir.resolve("ca.crt"));
            }

            @Override
            public Duration reloadInterval() {
                return Duration.ofMillis(100);
            }

            @Override
            public Duration lifetime() {
                return Duration.ofDays(7);
            }

            @Override
            public Duration enrollTimeout() {
                return Duration.ofSeconds(1);
            }
        };
    }
}
