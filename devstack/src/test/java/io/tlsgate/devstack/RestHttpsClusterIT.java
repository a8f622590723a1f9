package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tlsgate.testkit.Commands;
import io.tlsgate.testkit.DebianTools;
import io.tlsgate.testkit.TestPki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The REST ports of the running cluster (docs/security.md): HTTPS only, judged by Debian's
 * testssl.sh (TLS 1.2 and 1.3 only, no weak cipher category), and the certificate of
 * cert-service's {@code https} slot, which every service serves from the next handshake on
 * after it is re-assigned, without a restart.
 */
@ExtendWith(ListenerCluster.Shared.class)
class RestHttpsClusterIT {

    private static final List<Integer> REST = List.of(8081, 8082, 8083, 8084);

    @Test
    void testsslFindsOnlyTls12And13AndNoWeakCiphers() throws Exception {
        String testssl = DebianTools.require("testssl", "testssl.sh");
        ClusterApi api = ListenerCluster.api();
        Path json = Files.createTempFile("testssl-", ".json");
        Files.delete(json);
        Commands.Result r = Commands.run(Duration.ofMinutes(5), Map.of(), null, testssl, "--quiet", "--color", "0",
                "--protocols", "--std", "--warnings", "off", "--jsonfile", json.toString(),
                "https://localhost:" + api.port(8081));
        Map<String, String> findings = new HashMap<>();
        for (JsonNode f : new ObjectMapper().readTree(Files.readString(json))) {
            findings.put(f.get("id").asText(), f.get("finding").asText());
        }
        Files.deleteIfExists(json);
        for (String old : List.of("SSLv2", "SSLv3", "TLS1", "TLS1_1")) {
            assertEquals("not offered", findings.get(old), old + " in " + r.output());
        }
        assertTrue(findings.get("TLS1_2").startsWith("offered"), r.output());
        assertTrue(findings.get("TLS1_3").startsWith("offered"), r.output());
        for (String weak : List.of("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
                "cipherlist_3DES_IDEA", "cipherlist_AVERAGE")) {
            assertEquals("not offered", findings.get(weak), weak + " in " + r.output());
        }
        assertTrue(findings.get("cipherlist_STRONG").startsWith("offered"), r.output());
    }

    @Test
    void plainHttpGetsNoAnswer() throws Exception {
        ClusterApi api = ListenerCluster.api();
        for (int port : REST) {
            assertThrows(java.io.IOException.class, () -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://localhost:" + api.port(port) + "/q/health/live")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString()), "port " + port);
        }
    }

    @Test
    void aNewHttpsCertificateIsServedByEveryServiceWithoutARestart() throws Exception {
        ClusterApi api = ListenerCluster.api();
        Map<String, Long> pids = new HashMap<>();
        for (Map.Entry<String, Integer> s : DevStack.SERVICES) {
            pids.put(s.getKey(), api.stack().service(s.getKey()).pid());
        }
        TestPki.Issued ca = TestPki.selfSignedCa("REST rotation IT CA", Duration.ofDays(2));
        api.ok("POST", 8082, "/api/v1/certificates", "{\"name\":\"rest-rotation-it\",\"commonName\":\"localhost\","
                + "\"subjectAltNames\":[\"localhost\"],\"keyType\":\"EC_P256\",\"validityDays\":2}");
        String csr = api.ok("GET", 8082, "/api/v1/certificates/rest-rotation-it/csr", null);
        X509Certificate signed = TestPki.issue(ca, TestPki.csrPublicKey(csr), TestPki.Spec.server("localhost", "localhost"));
        ClusterApi.ok(api.send("PUT", 8082, "/api/v1/certificates/rest-rotation-it/certificate", "application/x-pem-file",
                TestPki.pem(signed) + ca.certificatePem()));
        api.ok("PUT", 8082, "/api/v1/assignments/https", "{\"certificate\":\"rest-rotation-it\"}");
        try {
            for (int port : REST) {
                awaitServed(api.port(port), signed);
            }
        } finally {
            // Back to devstack's own certificate, which the other tests' client trusts.
            HttpResponse<String> back = putBack(api, ca);
            assertEquals(200, back.statusCode(), back.body());
            X509Certificate devstack = DevHttps.readCertificate(DevHttps.caFile(api.data()));
            for (int port : REST) {
                awaitIssuedBy(api.port(port), devstack);
            }
            api.ok("DELETE", 8082, "/api/v1/certificates/rest-rotation-it", null);
        }
        for (Map.Entry<String, Integer> s : DevStack.SERVICES) {
            assertEquals(pids.get(s.getKey()), api.stack().service(s.getKey()).pid(), s.getKey() + " was restarted");
        }
    }

    /** Assigns devstack's certificate again, over a connection that trusts the rotation's CA (what the ports serve now). */
    private static HttpResponse<String> putBack(ClusterApi api, TestPki.Issued ca) throws Exception {
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", ca.certificate());
        javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ctx).build().send(HttpRequest.newBuilder(
                URI.create("https://localhost:" + api.port(8082) + "/api/v1/assignments/https"))
                .header("Authorization", "Bearer " + api.secrets().adminToken()).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString("{\"certificate\":\"" + DevHttps.CERTIFICATE + "\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static void awaitServed(int port, X509Certificate expected) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!served(port).equals(expected)) {
            assertTrue(System.nanoTime() < deadline, "port " + port + " still serves " + served(port).getSubjectX500Principal());
            Thread.sleep(200);
        }
    }

    private static void awaitIssuedBy(int port, X509Certificate ca) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!served(port).getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
            assertTrue(System.nanoTime() < deadline, "port " + port + " did not go back to devstack's certificate");
            Thread.sleep(200);
        }
    }

    /** The leaf certificate a new TLS handshake with {@code port} presents. */
    private static X509Certificate served(int port) throws Exception {
        SSLContext ctx = io.tlsgate.testkit.SmtpDialogue.trustAll(null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("localhost", port)) {
            s.startHandshake();
            return (X509Certificate) s.getSession().getPeerCertificates()[0];
        }
    }
}
