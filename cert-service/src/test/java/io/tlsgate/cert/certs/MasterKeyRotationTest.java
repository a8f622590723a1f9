package io.tlsgate.cert.certs;

import static io.tlsgate.cert.certs.CertificateApiTest.generate;
import static io.tlsgate.cert.certs.CertificateApiTest.unique;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.cert.keys.KeyVault;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.testkit.TestTokens;
import jakarta.inject.Inject;
import java.sql.PreparedStatement;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * A master-key rotation as an operator does it: the new key in tlsgate.cert.master-key, the old
 * one in tlsgate.cert.previous-master-keys (the tests' configuration has both). A private key
 * sealed under the old one still opens, the re-wrap job moves it to the new one, and the gauge
 * of keys left on old master keys goes to 0.
 */
@QuarkusTest
class MasterKeyRotationTest {

    @Inject
    DataSource dataSource;

    @Inject
    CertificateStore store;

    @Inject
    MasterKeyRotation rotation;

    @Test
    void aKeySealedUnderThePreviousMasterKeyOpensAndIsRewrapped() {
        String name = unique();
        generate("{\"name\":\"" + name + "\",\"commonName\":\"mx.rotation.test\",\"keyType\":\"EC_P256\"}").statusCode(201);
        KeyVault current = new KeyVault(TestTokens.MASTER_KEY);
        KeyVault previous = new KeyVault(TestTokens.PREVIOUS_MASTER_KEY);
        byte[] pkcs8 = current.open(find(name).sealedKey(), name);

        // As it was stored before the rotation: sealed under the previous master key.
        KeyVault.Sealed old = previous.seal(pkcs8, name);
        Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("update certificate set key_ciphertext = ?, key_nonce = ?, "
                    + "data_key_wrapped = ?, data_key_nonce = ?, master_key_id = ? where name = ?")) {
                ps.setBytes(1, old.ciphertext());
                ps.setBytes(2, old.nonce());
                ps.setBytes(3, old.wrappedDataKey());
                ps.setBytes(4, old.dataKeyNonce());
                ps.setString(5, old.masterKeyId());
                ps.setString(6, name);
                return ps.executeUpdate();
            }
        });
        assertEquals(previous.masterKeyId(), find(name).sealedKey().masterKeyId());
        // The service still uses the key: a PKCS#12 export needs the private key.
        given().header("Authorization", TestTokens.bearer(TestTokens.ADMIN)).contentType("application/json")
                .body("{\"password\":\"rotation-test-pw\"}").when().post("/api/v1/certificates/" + name + "/export")
                .then().statusCode(200);

        assertTrue(rotation.rewrapAll() >= 1);
        KeyVault.Sealed now = find(name).sealedKey();
        assertEquals(current.masterKeyId(), now.masterKeyId(), "re-sealed under the current master key");
        assertArrayEquals(pkcs8, current.open(now, name), "the same private key, without the previous master key");
        assertEquals(0, rotation.onPreviousMasterKey());
        given().when().get("/q/metrics").then().statusCode(200)
                .body(containsString("tlsgate_cert_keys_previous_master{service=\"cert-service\"} 0.0"));
        assertEquals(0, rotation.rewrapAll(), "nothing left to do");
    }

    private StoredCertificate find(String name) {
        return Jdbc.transaction(dataSource, c -> store.find(c, name)).orElseThrow();
    }
}
