package io.tlsgate.cert.certs;

import static io.tlsgate.cert.certs.CertificateApiTest.as;
import static io.tlsgate.cert.certs.CertificateApiTest.generate;
import static io.tlsgate.cert.certs.CertificateApiTest.unique;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.tlsgate.testkit.TestPki;
import io.tlsgate.testkit.TestPki.Issued;
import io.tlsgate.testkit.TestPki.Spec;
import io.tlsgate.testkit.TestTokens;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Uploading the CA-signed certificate: every refusal has its own message and stores nothing
 * (the entry stays SELF_SIGNED); duplicates and disorder are fixed and reported.
 */
@QuarkusTest
class UploadTest {

    /** A root the service trusts (added through the API) and one it does not. */
    static Issued trustedRoot;
    static Issued untrustedRoot;

    String name;
    PublicKey key;

    @BeforeEach
    void newEntry() {
        if (trustedRoot == null) {
            trustedRoot = TestPki.selfSignedCa("Upload Root " + unique(), Duration.ofDays(3650));
            untrustedRoot = TestPki.selfSignedCa("Stranger Root " + unique(), Duration.ofDays(3650));
            as(TestTokens.ADMIN).contentType("application/x-pem-file")
                    .body(trustedRoot.certificatePem().getBytes(StandardCharsets.US_ASCII))
                    .when().post("/api/v1/trusted-cas").then().statusCode(201);
        }
        name = unique();
        generate("{\"name\":\"" + name + "\",\"commonName\":\"mx.example.org\",\"keyType\":\"EC_P256\"}").statusCode(201);
        String csr = as(TestTokens.READER).when().get("/api/v1/certificates/" + name + "/csr").then().extract().asString();
        key = TestPki.csrPublicKey(csr);
    }

    static String pem(X509Certificate... chain) {
        StringBuilder b = new StringBuilder();
        for (X509Certificate x : chain) {
            b.append(TestPki.pem(x));
        }
        return b.toString();
    }

    ValidatableResponse upload(String pem) {
        return as(TestTokens.OPERATOR).contentType("application/x-pem-file").body(pem.getBytes(StandardCharsets.US_ASCII))
                .when().put("/api/v1/certificates/" + name + "/certificate").then();
    }

    void refused(String pem, String message) {
        upload(pem).statusCode(400).contentType("application/problem+json")
                .body("errors[0].field", equalTo("pem"))
                .body("errors[0].message", containsString(message));
        as(TestTokens.READER).when().get("/api/v1/certificates/" + name).then().statusCode(200)
                .body("status", equalTo("SELF_SIGNED")).body("chain", hasSize(1));
    }

    @Test
    void aChainToATrustedRootIsStoredInOrder() {
        Issued inter = TestPki.intermediate(trustedRoot, "Upload Intermediate");
        X509Certificate leaf = TestPki.issue(inter, key, Spec.server("mx.example.org", "mx.example.org"));
        upload(pem(leaf, inter.certificate())).statusCode(200)
                .body("warnings", empty())
                .body("certificate.status", equalTo("CA_SIGNED"))
                .body("certificate.issuer", containsString("Upload Intermediate"))
                .body("certificate.chain", hasSize(2))
                .body("certificate.hasCsr", equalTo(true));
    }

    @Test
    void duplicatesAndDisorderAreFixedAndReported() {
        Issued inter = TestPki.intermediate(trustedRoot, "Upload Intermediate 2");
        X509Certificate leaf = TestPki.issue(inter, key, Spec.server("mx.example.org"));
        upload(pem(trustedRoot.certificate(), inter.certificate(), leaf, inter.certificate())).statusCode(200)
                .body("warnings", contains(containsString("duplicate certificate removed"),
                        containsString("not in order")))
                .body("certificate.chain.subject", contains(containsString("mx.example.org"),
                        containsString("Upload Intermediate 2"), containsString("Upload Root")));
    }

    @Test
    void aCertificateForAnotherKeyIsRefused() {
        X509Certificate other = TestPki.issue(trustedRoot, TestPki.ecKeys().getPublic(), Spec.server("mx.example.org"));
        refused(pem(other), "issued for another key");
    }

    @Test
    void expiredAndNotYetValidAreRefused() {
        Instant now = Instant.now();
        refused(pem(TestPki.issue(trustedRoot, key, Spec.server("mx.example.org")
                .validity(now.minus(Duration.ofDays(100)), now.minus(Duration.ofDays(1))))), "expired on");
        refused(pem(TestPki.issue(trustedRoot, key, Spec.server("mx.example.org")
                .validity(now.plus(Duration.ofDays(1)), now.plus(Duration.ofDays(100))))), "is not valid before");
        Issued inter = TestPki.intermediate(trustedRoot, "Expired Intermediate");
        X509Certificate expiredInter = TestPki.issue(trustedRoot, inter.keys().getPublic(), Spec.intermediate("Expired Intermediate")
                .validity(now.minus(Duration.ofDays(400)), now.minus(Duration.ofDays(2))));
        X509Certificate leaf = TestPki.issue(inter, key, Spec.server("mx.example.org"));
        refused(pem(leaf, expiredInter), "intermediate 'CN=Expired Intermediate,O=tlsgate tests' expired on");
    }

    @Test
    void unsuitableUsagesAreRefused() {
        refused(pem(TestPki.issue(trustedRoot, key, Spec.server("mx.example.org")
                .usage(KeyUsage.digitalSignature, KeyPurposeId.id_kp_clientAuth))), "does not include serverAuth");
        refused(pem(TestPki.issue(trustedRoot, key, Spec.server("mx.example.org")
                .usage(KeyUsage.keyCertSign, KeyPurposeId.id_kp_serverAuth))), "neither digitalSignature nor keyEncipherment");
        refused(pem(TestPki.issue(trustedRoot, key, Spec.intermediate("mx.example.org"))), "is a CA certificate");
    }

    @Test
    void missingAndBrokenLinksAreRefused() {
        Issued inter = TestPki.intermediate(trustedRoot, "Link Intermediate");
        X509Certificate leaf = TestPki.issue(inter, key, Spec.server("mx.example.org"));
        refused(pem(leaf), "missing chain link");
        X509Certificate strangerLeaf = TestPki.issue(untrustedRoot, key, Spec.server("mx.example.org"));
        refused(pem(strangerLeaf), "missing chain link");
        // Same subject name as the real intermediate, different key: it did not sign the leaf.
        Issued impostor = TestPki.intermediate(trustedRoot, "Link Intermediate");
        refused(pem(leaf, impostor.certificate()), "broken chain link");
        // An intermediate that is not a CA.
        java.security.KeyPair kp = TestPki.ecKeys();
        X509Certificate notCa = TestPki.issue(trustedRoot, kp.getPublic(), Spec.server("Not A CA"));
        X509Certificate underNotCa = TestPki.issue(new Issued(kp, notCa), key, Spec.server("mx.example.org"));
        refused(pem(underNotCa, notCa), "is not a CA certificate");
        refused(pem(leaf, inter.certificate(), untrustedRoot.certificate()), "does not belong to the chain");
    }

    @Test
    void garbageIsRefused() {
        refused("hello", "no certificate found");
        refused("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not PEM certificates");
        upload("x".repeat(70_000)).statusCode(400).body("errors[0].field", equalTo("pem"));
        as(TestTokens.OPERATOR).contentType("application/x-pem-file").body("x".getBytes())
                .when().put("/api/v1/certificates/demo/certificate").then().statusCode(409);
        as(TestTokens.READER).contentType("application/x-pem-file").body("x".getBytes())
                .when().put("/api/v1/certificates/" + name + "/certificate").then().statusCode(403);
    }
}
