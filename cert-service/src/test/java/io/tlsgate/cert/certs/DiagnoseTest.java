package io.tlsgate.cert.certs;

import static io.tlsgate.cert.certs.CertificateApiTest.as;
import static io.tlsgate.cert.certs.CertificateApiTest.generate;
import static io.tlsgate.cert.certs.CertificateApiTest.unique;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.tlsgate.testkit.TestPki;
import io.tlsgate.testkit.TlsgateTestResources;
import io.tlsgate.testkit.TestTokens;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The "three things must match" check, with MX records from a real DNS server on loopback. */
@QuarkusTest
class DiagnoseTest {

    @BeforeAll
    static void dns() {
        TlsgateTestResources.dns()
                .mx("d1.example", 20, "mx2.d1.example").mx("d1.example", 10, "mx1.d1.example")
                .address("nomx.example", "192.0.2.5")
                .mx("nullmx.example", 0, ".");
    }

    static ValidatableResponse diagnose(String name, String query) {
        return as(TestTokens.READER).when().get("/api/v1/certificates/" + name + "/diagnose?" + query).then().statusCode(200);
    }

    @Test
    void aCaSignedCertificateForTheListenerAndEveryMxHasNoProblems() {
        TestPki.Issued root = TestPki.selfSignedCa("Diagnose Root " + unique(), Duration.ofDays(3650));
        as(TestTokens.ADMIN).contentType("application/x-pem-file").body(root.certificatePem().getBytes(StandardCharsets.US_ASCII))
                .when().post("/api/v1/trusted-cas").then().statusCode(201);
        String name = unique();
        generate("{\"name\":\"" + name + "\",\"commonName\":\"mx1.d1.example\",\"subjectAltNames\":[\"mx2.d1.example\"],"
                + "\"keyType\":\"EC_P256\"}").statusCode(201);
        String csr = as(TestTokens.READER).when().get("/api/v1/certificates/" + name + "/csr").then().extract().asString();
        X509Certificate leaf = TestPki.issue(root, TestPki.csrPublicKey(csr),
                TestPki.Spec.server("mx1.d1.example", "mx1.d1.example", "mx2.d1.example"));
        as(TestTokens.OPERATOR).contentType("application/x-pem-file").body(TestPki.pem(leaf).getBytes(StandardCharsets.US_ASCII))
                .when().put("/api/v1/certificates/" + name + "/certificate").then().statusCode(200);

        diagnose(name, "hostname=MX1.d1.example.&domain=d1.example")
                .body("problems", empty())
                .body("hostname.matches", equalTo(true))
                .body("domain.mx.name", contains("mx1.d1.example", "mx2.d1.example"))
                .body("domain.mx.preference", contains(10, 20))
                .body("domain.mx.matches", contains(true, true))
                .body("chain", containsString("complete"));
        diagnose(name, "hostname=mail.other.example&domain=d1.example")
                .body("hostname.matches", equalTo(false)).body("hostname.matchedBy", nullValue())
                .body("problems", contains(containsString("host name mail.other.example is not among")));
    }

    @Test
    void mismatchesAndDnsFindingsAreProblems() {
        String name = unique();
        generate("{\"name\":\"" + name + "\",\"commonName\":\"mx1.d1.example\",\"keyType\":\"EC_P256\",\"validityDays\":10}")
                .statusCode(201);
        diagnose(name, "hostname=mx1.d1.example&domain=d1.example")
                .body("domain.mx.matches", contains(true, false))
                .body("problems", hasItem("MX host mx2.d1.example of d1.example is not among the certificate's names"))
                .body("problems", hasItem(containsString("expires in")))
                .body("problems", hasItem(containsString("self-signed")))
                .body("daysToExpiry", equalTo(9));
        diagnose(name, "domain=nomx.example").body("domain.mx.name", contains("nomx.example"))
                .body("domain.note", containsString("no MX records"));
        diagnose(name, "domain=nullmx.example").body("problems", hasItem(containsString("null MX")));
        diagnose(name, "domain=nxdomain.example").body("problems", hasItem(containsString("does not exist")));
        diagnose("demo", "hostname=localhost").body("hostname.matches", equalTo(true))
                .body("problems", hasItem(containsString("demo certificate")));
        as(TestTokens.READER).when().get("/api/v1/certificates/nosuch/diagnose?hostname=x").then().statusCode(404);
    }

    @ParameterizedTest
    @CsvSource({"*.d1.example,mx1.d1.example,true", "*.d1.example,d1.example,false", "*.d1.example,a.b.d1.example,false",
        "mx1.d1.example,MX1.D1.EXAMPLE.,true", "mx1.d1.example,mx2.d1.example,false", "*.example,d1.example,false",
        "m*.d1.example,mx1.d1.example,false"})
    void namesMatchAsTlsClientsMatchThem(String pattern, String name, boolean matches) {
        assertEquals(matches, Diagnosis.check(java.util.List.of(pattern), name, null).matches());
    }
}
