package io.tlsgate.platform.https;

import io.tlsgate.platform.tls.RotatingKeyManager;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A self-signed certificate made in memory, for the REST port while cert-service has not
 * answered yet: TLS stays on (health checks work), and no client that verifies trusts it.
 */
final class TemporaryCertificate {

    private TemporaryCertificate() {}

    static RotatingKeyManager.Version make(String service) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair keys = g.generateKeyPair();
            X500Name name = new X500Name("CN=" + service + " temporary,O=tlsgate");
            Instant now = Instant.now();
            X509Certificate cert = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(name,
                    new BigInteger(64, new SecureRandom()), Date.from(now.minus(Duration.ofMinutes(5))),
                    Date.from(now.plus(Duration.ofDays(1))), name, keys.getPublic())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
            return new RotatingKeyManager.Version("rest-temporary", keys.getPrivate(), new X509Certificate[] {cert});
        } catch (Exception e) {
            throw new IllegalStateException("cannot make a temporary REST certificate: " + e.getMessage(), e);
        }
    }
}
