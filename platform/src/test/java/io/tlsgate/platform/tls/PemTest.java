package io.tlsgate.platform.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.TestPki;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class PemTest {

    private final TestPki.Issued ca = TestPki.selfSignedCa("pem test CA", Duration.ofDays(1));
    private final X509Certificate leaf = TestPki.issue(ca, TestPki.ecKeys().getPublic(), TestPki.Spec.server("mx.pem.test"));

    @Test
    void aChainRoundTripsInOrderAndTextAroundTheBlocksIsIgnored() throws Exception {
        String chain = "leaf:\n" + Pem.of(leaf) + "issuer:\r\n" + Pem.of(ca.certificate()).replace("\n", "\r\n") + "end\n";
        assertEquals(List.of(leaf, ca.certificate()), Pem.certificates(chain));
    }

    @Test
    void oneBlockOf64CharacterLinesWithTheSameTextAsOtherPemWriters() {
        String pem = Pem.of(leaf);
        assertTrue(pem.startsWith("-----BEGIN CERTIFICATE-----\n") && pem.endsWith("\n-----END CERTIFICATE-----\n"), pem);
        String[] lines = pem.split("\n");
        for (int i = 1; i < lines.length - 2; i++) {
            assertEquals(64, lines[i].length(), "line " + i);
        }
        assertEquals(TestPki.pem(leaf).replace("\r\n", "\n"), pem, "as Bouncy Castle writes it");
    }

    @Test
    void aBlockThatIsNotACertificateOrTextWithoutABlockIsRefusedAndEmptyTextIsNone() throws Exception {
        assertThrows(CertificateException.class, () -> Pem.certificates("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"));
        assertThrows(CertificateException.class, () -> Pem.certificates("no certificate here"));
        assertEquals(List.of(), Pem.certificates(""));
        assertEquals(List.of(), KeyMaterial.pem("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"));
    }
}
