package io.tlsgate.cert.certs;

import static io.tlsgate.cert.certs.CertificateApiTest.as;
import static io.tlsgate.cert.certs.CertificateApiTest.generate;
import static io.tlsgate.cert.certs.CertificateApiTest.unique;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.CertificateBundle;
import io.tlsgate.proto.cert.v1.GetBundleRequest;
import io.tlsgate.testkit.GrpcChannels;
import io.tlsgate.testkit.TestIdentities;
import io.tlsgate.testkit.TestTokens;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * Slots and bundles: an unassigned slot serves the demo certificate and says so; GetBundle
 * gives a key that completes a real TLS handshake with its chain; WatchBundle pushes a new
 * assignment within 2 seconds; the key is not in the database in clear.
 */
@QuarkusTest
class BundleTest {

    @TestHTTPResource("/")
    URL url;

    @Inject
    DataSource dataSource;

    @Test
    void anUnassignedSlotServesTheDemoCertificateAndSaysSo() throws Exception {
        String slot = "listener:" + unique();
        as(TestTokens.READER).when().get("/api/v1/assignments/" + slot).then().statusCode(200)
                .body("certificate", equalTo("demo")).body("assigned", equalTo(false)).body("demo", equalTo(true))
                .body("note", containsString("DEMO"));
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("listener-service"), "cert-service");
        try {
            CertificateBundle b = CertServiceGrpc.newBlockingStub(ch).getBundle(GetBundleRequest.newBuilder().setSlot(slot).build());
            assertTrue(b.getDemo());
            assertFalse(b.getAssigned());
            assertEquals("demo", b.getCertificate());
            handshake(b);
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void assignmentsAreServedPushedAndGuarded() throws Exception {
        String name = unique();
        String slot = "listener:" + unique();
        generate("{\"name\":\"" + name + "\",\"commonName\":\"mx.example.net\",\"keyType\":\"RSA_2048\"}").statusCode(201);
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("listener-service"), "cert-service");
        BlockingQueue<CertificateBundle> pushed = new LinkedBlockingQueue<>();
        try {
            CertServiceGrpc.newStub(ch).watchBundle(GetBundleRequest.newBuilder().setSlot(slot).build(),
                    new StreamObserver<>() {
                        @Override
                        public void onNext(CertificateBundle value) {
                            pushed.add(value);
                        }

                        @Override
                        public void onError(Throwable t) {
                        }

                        @Override
                        public void onCompleted() {
                        }
                    });
            CertificateBundle first = pushed.poll(10, TimeUnit.SECONDS);
            assertNotNull(first, "the current bundle comes first");
            assertEquals("demo", first.getCertificate());

            as(TestTokens.OPERATOR).contentType("application/json").body("{\"certificate\":\"" + name + "\"}")
                    .when().put("/api/v1/assignments/" + slot).then().statusCode(200)
                    .body("certificate", equalTo(name)).body("assigned", equalTo(true));
            long t0 = System.nanoTime();
            CertificateBundle next = pushed.poll(2, TimeUnit.SECONDS);
            assertNotNull(next, "a new assignment is pushed to watchers within 2 seconds");
            System.out.printf("WatchBundle push after assignment: %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            assertEquals(name, next.getCertificate());
            assertTrue(next.getAssigned());
            assertEquals("RSA", next.getKeyAlgorithm());
            handshake(next);

            CertificateBundle got = CertServiceGrpc.newBlockingStub(ch).getBundle(GetBundleRequest.newBuilder().setSlot(slot).build());
            assertEquals(name, got.getCertificate());
            as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().body("assignedTo", hasItem(slot));
            as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(409)
                    .body("detail", containsString(slot));

            keyIsNotInTheDatabaseInClear(name, got.getPrivateKeyPkcs8().toByteArray());

            // Uploading the CA-signed certificate for the assigned entry is pushed too.
            io.tlsgate.testkit.TestPki.Issued root = io.tlsgate.testkit.TestPki.selfSignedCa("Bundle Root " + unique(),
                    Duration.ofDays(365));
            String csr = as(TestTokens.READER).when().get("/api/v1/certificates/" + name + "/csr").then().extract().asString();
            X509Certificate signed = io.tlsgate.testkit.TestPki.issue(root, io.tlsgate.testkit.TestPki.csrPublicKey(csr),
                    io.tlsgate.testkit.TestPki.Spec.server("mx.example.net", "mx.example.net"));
            as(TestTokens.OPERATOR).contentType("application/x-pem-file")
                    .body((io.tlsgate.testkit.TestPki.pem(signed) + root.certificatePem()).getBytes())
                    .when().put("/api/v1/certificates/" + name + "/certificate").then().statusCode(200);
            CertificateBundle rotated = pushed.poll(2, TimeUnit.SECONDS);
            assertNotNull(rotated, "an upload is pushed to watchers within 2 seconds");
            assertEquals(2, rotated.getChainCount());
            handshake(rotated);

            as(TestTokens.OPERATOR).when().delete("/api/v1/assignments/" + slot).then().statusCode(200)
                    .body("certificate", equalTo("demo"));
            CertificateBundle back = pushed.poll(2, TimeUnit.SECONDS);
            assertNotNull(back, "removing the assignment is pushed too");
            assertEquals("demo", back.getCertificate());
            as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(204);
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void slotsAndCertificatesAreValidated() {
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"certificate\":\"demo\"}")
                .when().put("/api/v1/assignments/smtp").then().statusCode(400).body("errors[0].field", equalTo("slot"));
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"certificate\":\"nosuch\"}")
                .when().put("/api/v1/assignments/outbound").then().statusCode(400)
                .body("errors[0].field", equalTo("certificate"));
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"cert\":\"demo\"}")
                .when().put("/api/v1/assignments/outbound").then().statusCode(400)
                .body("errors.field", hasItem("cert"));
        as(TestTokens.READER).when().get("/api/v1/assignments").then().statusCode(200)
                .body("slot", hasItem("outbound")).body("slot", hasItem("https"));
        as(TestTokens.READER).contentType("application/json").body("{\"certificate\":\"demo\"}")
                .when().put("/api/v1/assignments/outbound").then().statusCode(403);
        ManagedChannel ch = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("listener-service"), "cert-service");
        ManagedChannel admin = GrpcChannels.open(GrpcChannels.testPort(), TestIdentities.get().of("listener-service"), "cert-service");
        try {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> CertServiceGrpc.newBlockingStub(ch)
                    .getBundle(GetBundleRequest.newBuilder().setSlot("listener:bad name").build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
            e = assertThrows(StatusRuntimeException.class, () -> CertServiceGrpc.newBlockingStub(admin)
                    .getBundle(GetBundleRequest.newBuilder().setSlot("outbound").build()));
            assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode(), "the outbound key is delivery-service's only");
        } finally {
            ch.shutdownNow();
            admin.shutdownNow();
        }
    }

    /** No column of the row holds the PKCS#8 key, or any 16-byte piece of it, or a PEM private key. */
    private void keyIsNotInTheDatabaseInClear(String name, byte[] pkcs8) throws Exception {
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("select * from certificate where name = ?")) {
            ps.setString(1, name);
            try (ResultSet r = ps.executeQuery()) {
                assertTrue(r.next());
                java.io.ByteArrayOutputStream row = new java.io.ByteArrayOutputStream();
                for (int i = 1; i <= r.getMetaData().getColumnCount(); i++) {
                    byte[] v = r.getBytes(i);
                    if (v != null) {
                        row.write(v);
                    }
                }
                byte[] all = row.toByteArray();
                String text = new String(all, java.nio.charset.StandardCharsets.ISO_8859_1);
                assertFalse(text.contains("PRIVATE KEY"));
                assertFalse(text.contains(java.util.Base64.getEncoder().encodeToString(pkcs8).substring(0, 40)));
                for (int off = 0; off + 16 <= pkcs8.length; off += 8) {
                    byte[] piece = java.util.Arrays.copyOfRange(pkcs8, off, off + 16);
                    assertEquals(-1, indexOf(all, piece), "a piece of the private key at offset " + off + " is in the row");
                }
            }
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** A real TLS handshake on loopback: a server with the bundle's key and chain, a client trusting the chain. */
    static void handshake(CertificateBundle b) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        Certificate[] chain = new Certificate[b.getChainCount()];
        for (int i = 0; i < chain.length; i++) {
            chain[i] = cf.generateCertificate(new ByteArrayInputStream(b.getChain(i).toByteArray()));
        }
        PrivateKey key = KeyFactory.getInstance(b.getKeyAlgorithm())
                .generatePrivate(new PKCS8EncodedKeySpec(b.getPrivateKeyPkcs8().toByteArray()));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("k", key, new char[0], chain);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        SSLContext server = SSLContext.getInstance("TLS");
        server.init(kmf.getKeyManagers(), null, null);
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("root", chain[chain.length - 1]);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext client = SSLContext.getInstance("TLS");
        client.init(null, tmf.getTrustManagers(), null);
        try (SSLServerSocket ss = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 1,
                java.net.InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (SSLSocket s = (SSLSocket) ss.accept(); OutputStream out = s.getOutputStream()) {
                    out.write('x');
                } catch (Exception ignored) {
                    // the client side asserts
                }
            });
            t.start();
            try (SSLSocket s = (SSLSocket) client.getSocketFactory().createSocket(java.net.InetAddress.getLoopbackAddress(),
                    ss.getLocalPort()); InputStream in = s.getInputStream()) {
                s.setSoTimeout((int) Duration.ofSeconds(10).toMillis());
                s.startHandshake();
                assertEquals('x', in.read());
                assertEquals(((X509Certificate) chain[0]).getSubjectX500Principal(),
                        ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal());
            }
            t.join(10_000);
        }
    }
}
