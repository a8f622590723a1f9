package io.tlsgate.cert.identity;

import io.tlsgate.cert.keys.KeyVault;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.identity.IdentityIssuer;
import io.tlsgate.platform.identity.InternalTlsConfig;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.platform.tls.Pem;
import jakarta.enterprise.context.ApplicationScoped;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import javax.sql.DataSource;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.jboss.logging.Logger;

/**
 * The internal CA (docs/security.md): made once, by the first cert-service to start, kept in
 * PostgreSQL with its key sealed by the {@link KeyVault}, shared by every replica. It issues
 * the service identities of internal mutual TLS: a certificate naming one service (SAN URI
 * {@code spiffe://tlsgate/<service>} and DNS {@code <service>}) for serverAuth and clientAuth,
 * valid for {@code tlsgate.internal-tls.lifetime}. It also decides who may ask for one: the
 * holder of that service's enrolment token (at least 32 characters, one per service).
 *
 * <p>Security-sensitive: the CA key can mint any service identity; it is never logged or
 * served.
 */
@ApplicationScoped
@io.quarkus.runtime.Startup // checks the enrolment tokens at start; the CA itself is loaded on first use
public class InternalCa implements IdentityIssuer {

    private static final Logger LOG = Logger.getLogger(InternalCa.class);
    private static final String OWNER = "internal-ca";
    private static final Duration CA_VALIDITY = Duration.ofDays(3650);
    private static final Duration BACKDATE = Duration.ofMinutes(5);
    /** GetInternalCa's HMAC lets anyone test guesses offline: tokens must be long and random. */
    private static final int MIN_TOKEN = 32;
    private static final SecureRandom RANDOM = new SecureRandom();

    private record Ca(X509Certificate certificate, PrivateKey key) {}

    private final DataSource dataSource;
    private final KeyVault vault;
    private final InternalTlsConfig config;
    private volatile Ca ca;

    InternalCa(DataSource dataSource, KeyVault vault, InternalTlsConfig config) {
        this.dataSource = dataSource;
        this.vault = vault;
        this.config = config;
        java.util.Set<String> seen = new java.util.HashSet<>();
        config.enrollmentTokens().forEach((service, token) -> {
            ServiceIdentity.known(service);
            if (token.length() < MIN_TOKEN) {
                throw new IllegalArgumentException("tlsgate.internal-tls.enrollment-tokens." + service + " is shorter than "
                        + MIN_TOKEN + " characters (use e.g. openssl rand -hex 32)");
            }
            if (!seen.add(token)) {
                throw new IllegalArgumentException("tlsgate.internal-tls.enrollment-tokens." + service
                        + " is another service's token too: each service needs its own");
            }
        });
    }

    @Override
    public List<X509Certificate> issue(String service, PublicKey key) {
        ServiceIdentity.known(service);
        Ca c = ca();
        try {
            Instant now = Instant.now();
            Instant until = now.plus(config.lifetime());
            if (until.isAfter(c.certificate().getNotAfter().toInstant())) {
                until = c.certificate().getNotAfter().toInstant();
            }
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(c.certificate(), new BigInteger(127, RANDOM),
                    Date.from(now.minus(BACKDATE)), Date.from(until), new X500Name("CN=" + service + ",O=tlsgate"), key);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            int usage = KeyUsage.digitalSignature | ("RSA".equals(key.getAlgorithm()) ? KeyUsage.keyEncipherment : 0);
            b.addExtension(Extension.keyUsage, true, new KeyUsage(usage));
            b.addExtension(Extension.extendedKeyUsage, false,
                    new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.uniformResourceIdentifier, ServiceIdentity.uri(service)),
                new GeneralName(GeneralName.dNSName, service)}));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(c.certificate()));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(key));
            X509Certificate leaf = new JcaX509CertificateConverter()
                    .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(c.key())));
            LOG.infof("internal CA: issued the identity of %s, serial %s, valid until %s", service,
                    leaf.getSerialNumber().toString(16), until);
            return List.of(leaf);
        } catch (Exception e) {
            throw new IllegalStateException("the internal CA could not issue an identity for " + service + ": " + e.getMessage(), e);
        }
    }

    @Override
    public List<X509Certificate> anchors() {
        return List.of(ca().certificate());
    }

    /** Whether {@code token} is {@code service}'s enrolment token (constant time). */
    public boolean isEnrollmentToken(String service, String token) {
        String expected = config.enrollmentTokens().get(service);
        if (expected == null || token == null) {
            return false;
        }
        return MessageDigest.isEqual(sha256(expected), sha256(token));
    }

    /** {@code service}'s enrolment token, to authenticate the CA to it; empty when it has none. */
    public java.util.Optional<String> enrollmentToken(String service) {
        return java.util.Optional.ofNullable(config.enrollmentTokens().get(service));
    }

    private Ca ca() {
        Ca c = ca;
        if (c == null) {
            synchronized (this) {
                if (ca == null) {
                    ca = loadOrCreate();
                }
                c = ca;
            }
        }
        return c;
    }

    private Ca loadOrCreate() {
        try {
            Ca existing = load();
            if (existing != null) {
                return existing;
            }
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp384r1"));
            KeyPair keys = g.generateKeyPair();
            Instant now = Instant.now();
            X500Name name = new X500Name("CN=tlsgate internal CA " + Long.toHexString(RANDOM.nextLong()) + ",O=tlsgate");
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, new BigInteger(127, RANDOM),
                    Date.from(now.minus(BACKDATE)), Date.from(now.plus(CA_VALIDITY)), name, keys.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, new JcaX509ExtensionUtils().createSubjectKeyIdentifier(keys.getPublic()));
            X509Certificate cert = new JcaX509CertificateConverter()
                    .getCertificate(b.build(new JcaContentSignerBuilder("SHA384withECDSA").build(keys.getPrivate())));
            byte[] pkcs8 = keys.getPrivate().getEncoded();
            KeyVault.Sealed s = vault.seal(pkcs8, OWNER);
            Arrays.fill(pkcs8, (byte) 0);
            Jdbc.transaction(dataSource, c -> {
                try (PreparedStatement ps = c.prepareStatement("insert into internal_ca (id, certificate_pem, key_ciphertext, "
                        + "key_nonce, data_key_wrapped, data_key_nonce, master_key_id) values (1, ?, ?, ?, ?, ?, ?) "
                        + "on conflict (id) do nothing")) {
                    ps.setString(1, Pem.of(cert));
                    ps.setBytes(2, s.ciphertext());
                    ps.setBytes(3, s.nonce());
                    ps.setBytes(4, s.wrappedDataKey());
                    ps.setBytes(5, s.dataKeyNonce());
                    ps.setString(6, s.masterKeyId());
                    if (ps.executeUpdate() == 1) {
                        LOG.infof("internal CA created: %s, valid until %s", cert.getSubjectX500Principal(), cert.getNotAfter());
                    }
                }
                return null;
            });
            // Another replica may have made it first: theirs is the one.
            return load();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("cannot set up the internal CA: " + e.getMessage(), e);
        }
    }

    private Ca load() throws Exception {
        KeyVault.Sealed[] sealed = {null};
        String[] pem = {null};
        Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("select certificate_pem, key_ciphertext, key_nonce, data_key_wrapped, "
                    + "data_key_nonce, master_key_id from internal_ca where id = 1");
                    ResultSet r = ps.executeQuery()) {
                if (r.next()) {
                    pem[0] = r.getString(1);
                    sealed[0] = new KeyVault.Sealed(r.getBytes(2), r.getBytes(3), r.getBytes(4), r.getBytes(5), r.getString(6));
                }
            }
            if (sealed[0] != null && !sealed[0].masterKeyId().equals(vault.masterKeyId())) {
                // Master key rotation: move the CA key to the current master key like every other key.
                KeyVault.Sealed moved = vault.rewrap(sealed[0], OWNER);
                try (PreparedStatement ps = c.prepareStatement("update internal_ca set data_key_wrapped = ?, data_key_nonce = ?, "
                        + "master_key_id = ? where id = 1")) {
                    ps.setBytes(1, moved.wrappedDataKey());
                    ps.setBytes(2, moved.dataKeyNonce());
                    ps.setString(3, moved.masterKeyId());
                    ps.executeUpdate();
                }
                sealed[0] = moved;
            }
            return null;
        });
        if (sealed[0] == null) {
            return null;
        }
        byte[] pkcs8 = vault.open(sealed[0], OWNER);
        try {
            PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            return new Ca(Pem.certificates(pem[0]).get(0), key);
        } finally {
            Arrays.fill(pkcs8, (byte) 0);
        }
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
