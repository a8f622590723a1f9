package io.tlsgate.devstack;

import io.tlsgate.testkit.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The REST certificate of a dev stack: devstack makes a CA of its own once
 * ({@code <data>/https-ca.pem}, its key next to it, mode 0600), has cert-service generate a key
 * and CSR for {@code localhost} (and 127.0.0.1, ::1, this host's name), signs it with that CA
 * and assigns it to the {@code https} slot, exactly as an operator would with a real CA. Every
 * service picks it up within seconds, without a restart; until then they serve the demo
 * certificate, which devstack's own first calls accept (loopback only).
 */
final class DevHttps {

    static final String CERTIFICATE = "devstack-https";

    private DevHttps() {}

    /** The dev CA's certificate file (what {@code curl --cacert} wants). */
    static Path caFile(Path data) {
        return data.resolve("https-ca.pem");
    }

    /** An HTTP client trusting whatever a server on this machine presents: for the health checks before the certificate is assigned. */
    static HttpClient anyCertificate() {
        return HttpClient.newBuilder().sslContext(io.tlsgate.testkit.SmtpDialogue.trustAll(null))
                .connectTimeout(Duration.ofSeconds(2)).build();
    }

    /** An HTTP client trusting only the dev CA of {@code data}. */
    static HttpClient verified(Path data) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", readCertificate(caFile(data)));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ctx).connectTimeout(Duration.ofSeconds(2)).build();
    }

    /**
     * Makes sure the {@code https} slot holds devstack's certificate (made on the first start,
     * or again when it or the CA expires within 30 days), then waits until every REST port presents it.
     */
    static void ensure(Path data, String adminToken, int certPort, List<Integer> ports) throws Exception {
        HttpClient any = anyCertificate();
        String certs = "https://localhost:" + certPort + "/api/v1";
        HttpResponse<String> assigned = send(any, "GET", certs + "/assignments/https", adminToken, null, null);
        boolean current = assigned.statusCode() == 200 && assigned.body().contains("\"" + CERTIFICATE + "\"")
                && Files.exists(caFile(data)) && !expiresSoon(data) && !servedExpiresSoon(certPort);
        if (!current) {
            TestPki.Issued ca = ca(data);
            send(any, "DELETE", certs + "/assignments/https", adminToken, null, null);
            send(any, "DELETE", certs + "/certificates/" + CERTIFICATE, adminToken, null, null);
            List<String> names = names();
            StringBuilder sans = new StringBuilder();
            for (String n : names) {
                if (!isAddress(n)) { // cert-service's CSRs name hosts; the CA adds the addresses
                    sans.append(sans.length() == 0 ? "" : ",").append('"').append(n).append('"');
                }
            }
            ok(send(any, "POST", certs + "/certificates", adminToken, "application/json", "{\"name\":\"" + CERTIFICATE
                    + "\",\"commonName\":\"localhost\",\"subjectAltNames\":[" + sans + "],\"keyType\":\"EC_P256\",\"validityDays\":365}"));
            String csr = ok(send(any, "GET", certs + "/certificates/" + CERTIFICATE + "/csr", adminToken, null, null));
            List<String> dns = new ArrayList<>();
            for (String n : names) {
                dns.add(isAddress(n) ? "IP:" + n : n);
            }
            X509Certificate leaf = TestPki.issue(ca, TestPki.csrPublicKey(csr), new TestPki.Spec("localhost", dns,
                    Instant.now().minus(Duration.ofHours(1)), Instant.now().plus(Duration.ofDays(365)), false,
                    org.bouncycastle.asn1.x509.KeyUsage.digitalSignature,
                    new org.bouncycastle.asn1.x509.KeyPurposeId[] {org.bouncycastle.asn1.x509.KeyPurposeId.id_kp_serverAuth}));
            ok(send(any, "PUT", certs + "/certificates/" + CERTIFICATE + "/certificate", adminToken, "application/x-pem-file",
                    TestPki.pem(leaf) + ca.certificatePem()));
            ok(send(any, "PUT", certs + "/assignments/https", adminToken, "application/json",
                    "{\"certificate\":\"" + CERTIFICATE + "\"}"));
        }
        HttpClient verified = verified(data);
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        for (int port : ports) {
            while (true) {
                try {
                    verified.send(HttpRequest.newBuilder(URI.create("https://localhost:" + port + "/q/health/live"))
                            .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding());
                    break;
                } catch (IOException e) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("port " + port + " does not present devstack's REST certificate: " + e);
                    }
                    Thread.sleep(300);
                }
            }
        }
    }

    static X509Certificate readCertificate(Path pem) throws Exception {
        try (var in = Files.newInputStream(pem)) {
            return (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    /** Whether the certificate the REST port at {@code port} presents expires within 30 days. */
    private static boolean servedExpiresSoon(int port) {
        try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) io.tlsgate.testkit.SmtpDialogue.trustAll(null)
                .getSocketFactory().createSocket("localhost", port)) {
            s.startHandshake();
            X509Certificate leaf = (X509Certificate) s.getSession().getPeerCertificates()[0];
            return leaf.getNotAfter().toInstant().isBefore(Instant.now().plus(Duration.ofDays(30)));
        } catch (IOException e) {
            return true;
        }
    }

    private static boolean expiresSoon(Path data) {
        try {
            X509Certificate ca = readCertificate(caFile(data));
            return ca.getNotAfter().toInstant().isBefore(Instant.now().plus(Duration.ofDays(30)));
        } catch (Exception e) {
            return true;
        }
    }

    /** The dev CA, made once into the data directory. */
    private static TestPki.Issued ca(Path data) throws Exception {
        Path key = data.resolve("https-ca.key");
        if (Files.exists(key) && Files.exists(caFile(data)) && !expiresSoon(data)) {
            return TestPki.readIssued(Files.readString(key), Files.readString(caFile(data)));
        }
        TestPki.Issued ca = TestPki.selfSignedCa("tlsgate devstack CA", Duration.ofDays(3650));
        Files.deleteIfExists(key);
        Files.createFile(key, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Files.writeString(key, TestPki.pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(ca.keys().getPrivate(), null)));
        Files.writeString(caFile(data), ca.certificatePem());
        return ca;
    }

    private static boolean isAddress(String name) {
        return name.contains(":") || Character.isDigit(name.charAt(0));
    }

    /** localhost, the loopback addresses and this machine's name. */
    private static List<String> names() {
        List<String> out = new ArrayList<>(List.of("localhost", "127.0.0.1", "::1"));
        try {
            String host = InetAddress.getLocalHost().getHostName();
            if (!out.contains(host) && host.matches("[A-Za-z0-9.-]+") && !Character.isDigit(host.charAt(0))) {
                out.add(host);
            }
        } catch (IOException e) {
            // no host name: localhost will do
        }
        return out;
    }

    private static HttpResponse<String> send(HttpClient http, String method, String uri, String token, String type, String body)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token);
        if (type != null) {
            b.header("Content-Type", type);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String ok(HttpResponse<String> r) {
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException("setting up devstack's REST certificate: " + r.request().method() + " " + r.request().uri()
                    + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }
}
