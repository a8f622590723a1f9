package io.tlsgate.cert.certs;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.restassured.specification.RequestSpecification;
import io.tlsgate.testkit.TestTokens;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Generating certificates and CSRs over REST; the key never leaves; bad requests change nothing. */
@QuarkusTest
class CertificateApiTest {

    static RequestSpecification as(String token) {
        return given().header("Authorization", TestTokens.bearer(token));
    }

    static String unique() {
        return "c" + UUID.randomUUID().toString().substring(0, 8);
    }

    static ValidatableResponse generate(String json) {
        return as(TestTokens.ADMIN).contentType("application/json").body(json).when().post("/api/v1/certificates").then();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"RSA_2048,RSA-2048", "RSA_3072,RSA-3072", "EC_P256,EC-256", "EC_P384,EC-384"})
    void generatesKeyCertificateAndCsr(String keyType, String shown) throws Exception {
        String name = unique();
        String body = generate("{\"name\":\"" + name + "\",\"commonName\":\"Mail.Example.COM\",\"subjectAltNames\":"
                + "[\"mx1.example.com\",\"mx2.example.com\"],\"organization\":\"Example AG\",\"organizationalUnit\":\"IT\","
                + "\"locality\":\"Berlin\",\"state\":\"Berlin\",\"country\":\"DE\",\"keyType\":\"" + keyType
                + "\",\"validityDays\":90}")
                .statusCode(201)
                .body("status", equalTo("SELF_SIGNED"))
                .body("keyType", equalTo(shown))
                .body("subject", containsString("CN=mail.example.com"))
                .body("subject", containsString("O=Example AG"))
                .body("subjectAltNames", hasItem("mail.example.com"))
                .body("subjectAltNames", hasItem("mx2.example.com"))
                .body("daysToExpiry", equalTo(89))
                .body("fingerprintSha256", org.hamcrest.Matchers.matchesPattern("([0-9A-F]{2}:){31}[0-9A-F]{2}"))
                .body("assignedTo", org.hamcrest.Matchers.empty())
                .extract().asString();
        assertTrue(!body.contains("PRIVATE") && !body.toLowerCase().contains("privatekey"), body);

        String csr = as(TestTokens.READER).when().get("/api/v1/certificates/" + name + "/csr").then().statusCode(200)
                .body(startsWith("-----BEGIN CERTIFICATE REQUEST-----")).extract().asString();
        PKCS10CertificationRequest req = Pki.parseCsr(csr);
        String alg = req.getSubjectPublicKeyInfo().getAlgorithm().getAlgorithm()
                .equals(org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers.rsaEncryption) ? "RSA" : "EC";
        java.security.PublicKey publicKey = java.security.KeyFactory.getInstance(alg)
                .generatePublic(new java.security.spec.X509EncodedKeySpec(req.getSubjectPublicKeyInfo().getEncoded()));
        assertTrue(req.isSignatureValid(new JcaContentVerifierProviderBuilder().build(publicKey)));
        assertEquals("mail.example.com", req.getSubject().getRDNs(BCStyle.CN)[0].getFirst().getValue().toString());
        // Debian's openssl reads and verifies it too.
        Path f = Files.createTempFile("csr", ".pem");
        Files.writeString(f, csr);
        String openssl = io.tlsgate.testkit.DebianTools.require("openssl", "openssl");
        Process p = new ProcessBuilder(openssl, "req", "-in", f.toString(), "-noout", "-verify", "-text")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("verify OK") || out.contains("Certificate request self-signature verify OK"), out);
        assertTrue(out.contains("DNS:mx1.example.com"), out);
        Files.delete(f);

        as(TestTokens.READER).when().get("/api/v1/certificates").then().statusCode(200)
                .body("find { it.name == '" + name + "' }.keyType", equalTo(shown))
                .body(not(containsString("PRIVATE")));
        as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(204);
        as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().statusCode(404)
                .contentType("application/problem+json");
    }

    @ParameterizedTest(name = "{0} = {1}: {2}")
    @CsvSource(delimiter = '|', value = {
        "validityDays|1|ok", "validityDays|3650|ok", "validityDays|0|bad", "validityDays|3651|bad",
        "keyType|'\"RSA_1024\"'|bad", "keyType|'\"DSA\"'|bad", "country|'\"de\"'|bad", "country|'\"DEU\"'|bad",
        "subjectAltNames|'[\"ok.example\",\"bad name\"]'|bad:subjectAltNames[1]", "subjectAltNames|'\"x.example\"'|bad",
        "commonName|'\"bad name\"'|bad", "commonName|'\"*.example.com\"'|ok", "organization|'\"\"'|bad",
        "privateKey|'\"x\"'|bad", "name|'\"-bad\"'|bad"})
    void fieldsAreValidated(String field, String value, String verdict) {
        String name = unique();
        String body = "{\"name\":\"" + name + "\",\"commonName\":\"mail.example.com\",\"keyType\":\"EC_P256\"";
        body = body.contains("\"" + field + "\"")
                ? body.replaceAll("\"" + field + "\":\"[^\"]*\"", "\"" + field + "\":" + value.replace("$", "\\$"))
                : body + ",\"" + field + "\":" + value;
        ValidatableResponse r = generate(body + "}");
        if (verdict.equals("ok")) {
            r.statusCode(201);
            as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(204);
        } else {
            r.statusCode(400).contentType("application/problem+json")
                    .body("errors.field", hasItem(verdict.startsWith("bad:") ? verdict.substring(4) : field));
            as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().statusCode(404);
        }
    }

    @Test
    void conflictsMissingFieldsAndRoles() {
        String name = unique();
        generate("{\"name\":\"" + name + "\",\"commonName\":\"a.example\",\"keyType\":\"EC_P256\"}").statusCode(201);
        generate("{\"name\":\"" + name + "\",\"commonName\":\"b.example\",\"keyType\":\"EC_P256\"}").statusCode(409)
                .contentType("application/problem+json");
        as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().body("subject", equalTo("CN=a.example"));
        generate("{\"name\":\"" + unique() + "\"}").statusCode(400).body("errors.field", hasItem("commonName"));
        generate("not json").statusCode(400).body("errors.field", hasItem("body"));
        as(TestTokens.READER).contentType("application/json").body("{}").when().post("/api/v1/certificates").then()
                .statusCode(403);
        // Generating and deleting keys is admin-only: an operator gets 403 and nothing changes.
        String other = unique();
        as(TestTokens.OPERATOR).contentType("application/json")
                .body("{\"name\":\"" + other + "\",\"commonName\":\"c.example\",\"keyType\":\"EC_P256\"}")
                .when().post("/api/v1/certificates").then().statusCode(403).contentType("application/problem+json")
                .body("status", equalTo(403));
        as(TestTokens.READER).when().get("/api/v1/certificates/" + other).then().statusCode(404);
        as(TestTokens.OPERATOR).when().delete("/api/v1/certificates/" + name).then().statusCode(403)
                .contentType("application/problem+json");
        as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().statusCode(200)
                .body("subject", equalTo("CN=a.example"));
        as(TestTokens.ADMIN).when().delete("/api/v1/certificates/demo").then().statusCode(409);
        as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(204);
        as(TestTokens.ADMIN).when().delete("/api/v1/certificates/" + name).then().statusCode(404);
    }

    @Test
    void theDemoCertificateExistsFromTheFirstStart() {
        as(TestTokens.READER).when().get("/api/v1/certificates/demo").then().statusCode(200)
                .body("status", equalTo("DEMO"))
                .body("subjectAltNames", hasItem("localhost"))
                .body("hasCsr", equalTo(true));
    }
}
