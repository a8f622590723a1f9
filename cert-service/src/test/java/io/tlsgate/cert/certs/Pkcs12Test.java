package io.tlsgate.cert.certs;

import static io.tlsgate.cert.certs.CertificateApiTest.as;
import static io.tlsgate.cert.certs.CertificateApiTest.generate;
import static io.tlsgate.cert.certs.CertificateApiTest.unique;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.tlsgate.testkit.TestPki;
import io.tlsgate.testkit.TestTokens;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * PKCS#12 both ways, checked with Debian's openssl; broken files, wrong passwords, keys that do
 * not belong to their certificate and keys without a (complete) chain store nothing.
 */
@QuarkusTest
class Pkcs12Test {

    Path dir;

    @BeforeEach
    void dir() throws IOException {
        dir = Files.createTempDirectory("p12");
    }

    @AfterEach
    void clean() throws IOException {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    static String run(Path dir, String... command) throws Exception {
        if (command[0].equals("openssl")) {
            command[0] = io.tlsgate.testkit.DebianTools.require("openssl", "openssl");
        }
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "openssl did not finish");
        return p.exitValue() + "\n" + out;
    }

    @Test
    void anExportedFileOpensInOpensslWithThePasswordOnly() throws Exception {
        String name = unique();
        generate("{\"name\":\"" + name + "\",\"commonName\":\"export.example\",\"keyType\":\"RSA_2048\"}").statusCode(201);
        byte[] p12 = as(TestTokens.ADMIN).contentType("application/json").body("{\"password\":\"s3cret-pass\"}")
                .when().post("/api/v1/certificates/" + name + "/export").then().statusCode(200)
                .contentType("application/x-pkcs12").extract().asByteArray();
        Files.write(dir.resolve("x.p12"), p12);
        String ok = run(dir, "openssl", "pkcs12", "-info", "-in", "x.p12", "-passin", "pass:s3cret-pass", "-noenc");
        assertTrue(ok.startsWith("0\n"), ok);
        assertTrue(ok.contains("subject=CN=export.example") || ok.contains("subject=CN = export.example"), ok);
        assertTrue(ok.contains("PRIVATE KEY-----"), ok); // the key is in the file (not spelled out: no key-like text in the repository)
        String wrong = run(dir, "openssl", "pkcs12", "-info", "-in", "x.p12", "-passin", "pass:wrong-pass", "-noenc");
        assertNotEquals("0", wrong.substring(0, wrong.indexOf('\n')), wrong);

        // Operators may not export keys; short passwords are refused.
        as(TestTokens.OPERATOR).contentType("application/json").body("{\"password\":\"s3cret-pass\"}")
                .when().post("/api/v1/certificates/" + name + "/export").then().statusCode(403);
        as(TestTokens.ADMIN).contentType("application/json").body("{\"password\":\"short\"}")
                .when().post("/api/v1/certificates/" + name + "/export").then().statusCode(400)
                .body("errors[0].field", equalTo("password"));
        as(TestTokens.ADMIN).contentType("application/json").body("{\"password\":\"s3cret-pass\"}")
                .when().post("/api/v1/certificates/nosuch/export").then().statusCode(404);
    }

    @Test
    void aFileMadeByOpensslImports() throws Exception {
        String made = run(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc",
                "-keyout", "k.pem", "-out", "c.pem", "-subj", "/CN=imported.example", "-days", "30",
                "-addext", "subjectAltName=DNS:imported.example", "-addext", "extendedKeyUsage=serverAuth");
        assertTrue(made.startsWith("0\n"), made);
        String exported = run(dir, "openssl", "pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "o.p12",
                "-passout", "pass:from-openssl");
        assertTrue(exported.startsWith("0\n"), exported);
        byte[] p12 = Files.readAllBytes(dir.resolve("o.p12"));
        String name = unique();

        importing(name, p12, "not-the-password").statusCode(400).body("errors[0].field", equalTo("password"));
        importing(name, Arrays.copyOf(p12, p12.length / 2), "from-openssl").statusCode(400)
                .body("errors[0].field", equalTo("file"));
        importing(name, "garbage".getBytes(), "from-openssl").statusCode(400).body("errors[0].field", equalTo("file"));
        as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().statusCode(404);

        importing(name, p12, "from-openssl").statusCode(201)
                .body("certificate.keyType", equalTo("EC-256"))
                .body("certificate.status", equalTo("SELF_SIGNED"))
                .body("certificate.subject", equalTo("CN=imported.example"))
                .body("certificate.hasCsr", equalTo(false));
        importing(name, p12, "from-openssl").statusCode(409);
        as(TestTokens.READER).when().get("/api/v1/certificates/" + name + "/csr").then().statusCode(404);
        // The imported key is usable: it round-trips through export and openssl again.
        byte[] back = as(TestTokens.ADMIN).contentType("application/json").body("{\"password\":\"again-pass\"}")
                .when().post("/api/v1/certificates/" + name + "/export").then().statusCode(200).extract().asByteArray();
        Files.write(dir.resolve("back.p12"), back);
        String info = run(dir, "openssl", "pkcs12", "-in", "back.p12", "-passin", "pass:again-pass", "-nocerts", "-noenc",
                "-out", "back-key.pem");
        assertTrue(info.startsWith("0\n"), info);
        String a = run(dir, "openssl", "pkey", "-in", "k.pem", "-pubout");
        String b = run(dir, "openssl", "pkey", "-in", "back-key.pem", "-pubout");
        assertEquals(a, b, "the same key came back");
        as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(204);
    }

    /** A server certificate for {@code keys} issued by {@code root} (a root the service does not trust; the files carry it). */
    static X509Certificate issued(TestPki.Issued root, KeyPair keys, String host) {
        return TestPki.issue(root, keys.getPublic(), TestPki.Spec.server(host, host));
    }

    static void refusedNamingFile(String name, ValidatableResponse r, String message) {
        r.statusCode(400).contentType("application/problem+json")
                .body("errors[0].field", equalTo("file"))
                .body("errors[0].message", containsString(message));
        as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().statusCode(404);
    }

    @ParameterizedTest(name = "{0} leaf and {1} key")
    @CsvSource({"EC,EC", "RSA,RSA", "EC,RSA", "RSA,EC"})
    void aKeyThatDoesNotBelongToTheLeafIsRefused(String leafType, String keyType) {
        TestPki.Issued root = TestPki.selfSignedCa("P12 Root " + unique(), Duration.ofDays(365));
        KeyPair leafKeys = leafType.equals("EC") ? TestPki.ecKeys() : TestPki.rsaKeys(2048);
        KeyPair otherKeys = keyType.equals("EC") ? TestPki.ecKeys() : TestPki.rsaKeys(2048);
        X509Certificate leaf = issued(root, leafKeys, "mismatch.example");
        String name = unique();
        refusedNamingFile(name, importing(name, TestPki.pkcs12(otherKeys.getPrivate(), "pw", leaf, root.certificate()), "pw"),
                "the private key does not match the certificate");
        // The same leaf with its own key imports.
        importing(name, TestPki.pkcs12(leafKeys.getPrivate(), "pw", leaf, root.certificate()), "pw").statusCode(201)
                .body("certificate.keyType", equalTo(leafType.equals("EC") ? "EC-256" : "RSA-2048"))
                .body("certificate.subject", containsString("CN=mismatch.example"))
                .body("certificate.chain", hasSize(2));
        as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(204);
    }

    @Test
    void aKeyWithoutItsCertificateIsRefused() throws Exception {
        // A key made here (PKCS#8 DER), put alone into a PKCS#12 file by openssl.
        Files.write(dir.resolve("k.der"), TestPki.ecKeys().getPrivate().getEncoded());
        String pem = run(dir, "openssl", "pkey", "-inform", "DER", "-in", "k.der", "-out", "k.pem");
        assertTrue(pem.startsWith("0\n"), pem);
        String made = run(dir, "openssl", "pkcs12", "-export", "-nocerts", "-inkey", "k.pem", "-out", "nocert.p12",
                "-passout", "pass:pw");
        assertTrue(made.startsWith("0\n"), made);
        String name = unique();
        refusedNamingFile(name, importing(name, Files.readAllBytes(dir.resolve("nocert.p12")), "pw"),
                "the private key comes without its certificate");
    }

    @Test
    void certificatesWithoutAKeyOrWithoutTheirIssuerAreRefused() {
        TestPki.Issued root = TestPki.selfSignedCa("P12 Root " + unique(), Duration.ofDays(365));
        TestPki.Issued inter = TestPki.intermediate(root, "P12 Intermediate " + unique());
        KeyPair keys = TestPki.ecKeys();
        X509Certificate leaf = TestPki.issue(inter, keys.getPublic(), TestPki.Spec.server("chain.example", "chain.example"));
        String name = unique();
        refusedNamingFile(name, importing(name, TestPki.pkcs12(null, "pw", leaf, inter.certificate(), root.certificate()),
                "pw"), "holds 0 private keys");
        // The intermediate and root are missing and nothing the service trusts issued the leaf.
        refusedNamingFile(name, importing(name, TestPki.pkcs12(keys.getPrivate(), "pw", leaf), "pw"), "missing chain link");
        // The complete chain imports, and only an admin may import it.
        byte[] complete = TestPki.pkcs12(keys.getPrivate(), "pw", leaf, inter.certificate(), root.certificate());
        as(TestTokens.OPERATOR).multiPart("name", name).multiPart("password", "pw")
                .multiPart("file", "x.p12", complete, "application/x-pkcs12")
                .when().post("/api/v1/certificates/import").then().statusCode(403).contentType("application/problem+json");
        as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().statusCode(404);
        importing(name, complete, "pw").statusCode(201).body("certificate.chain", hasSize(3));
        as(TestTokens.OPERATOR).when().delete("/api/v1/certificates/" + name).then().statusCode(403);
        as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().statusCode(200);
        as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(204);
    }

    @Test
    void formFieldsAreRequired() {
        as(TestTokens.ADMIN).multiPart("name", "x-" + unique()).when().post("/api/v1/certificates/import").then()
                .statusCode(400).body("errors.field", org.hamcrest.Matchers.hasItems("password", "file"));
        as(TestTokens.ADMIN).multiPart("name", "bad name").multiPart("password", "x")
                .multiPart("file", "a.p12", new byte[] {1, 2, 3}, "application/x-pkcs12")
                .when().post("/api/v1/certificates/import").then().statusCode(400)
                .body("errors.field", org.hamcrest.Matchers.hasItem("name"));
    }

    static ValidatableResponse importing(String name, byte[] p12, String password) {
        return as(TestTokens.ADMIN).multiPart("name", name).multiPart("password", password)
                .multiPart("file", "x.p12", p12, "application/x-pkcs12")
                .when().post("/api/v1/certificates/import").then();
    }
}
