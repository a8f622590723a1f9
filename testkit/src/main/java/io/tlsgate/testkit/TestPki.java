package io.tlsgate.testkit;

import java.io.StringWriter;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Throwaway PKI for tests: keys and certificates are generated per run, never committed.
 */
public final class TestPki {

    private TestPki() {}

    /** A key pair and its certificate. */
    public record Issued(KeyPair keys, X509Certificate certificate) {
        public String certificatePem() {
            return pem(certificate);
        }
    }

    /** An {@link Issued} read back from a PKCS#8 EC key and a certificate, both PEM. */
    public static Issued readIssued(String pkcs8Pem, String certificatePem) {
        try {
            String b64 = pkcs8Pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
            java.security.PrivateKey key = java.security.KeyFactory.getInstance("EC")
                    .generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(java.util.Base64.getDecoder().decode(b64)));
            X509Certificate cert = (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
                    .generateCertificate(new java.io.ByteArrayInputStream(certificatePem.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
            return new Issued(new KeyPair(cert.getPublicKey(), key), cert);
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the key and certificate", e);
        }
    }

    /** A self-signed CA certificate (EC P-256) valid from an hour ago for {@code validity}. */
    public static Issued selfSignedCa(String commonName, Duration validity) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(256);
            KeyPair kp = g.generateKeyPair();
            X500Name name = new X500Name("O=tlsgate tests,CN=" + commonName); // DER order: shown as CN=...,O=...
            Instant now = Instant.now();
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name,
                    new BigInteger(64, new SecureRandom()), Date.from(now.minus(Duration.ofHours(1))),
                    Date.from(now.plus(validity)), name, kp.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            X509Certificate cert = new JcaX509CertificateConverter()
                    .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
            return new Issued(kp, cert);
        } catch (Exception e) {
            throw new IllegalStateException("could not make a test CA", e);
        }
    }

    /**
     * Options for {@link #issue}: validity window, CA or end entity, key usage and EKU.
     * {@code dnsNames} are subjectAltName DNS names; one written {@code IP:192.0.2.1} or
     * {@code IP:::1} is an iPAddress name instead, one written {@code URI:...} a URI.
     */
    public record Spec(String commonName, java.util.List<String> dnsNames, Instant notBefore, Instant notAfter, boolean ca,
            int keyUsage, org.bouncycastle.asn1.x509.KeyPurposeId[] extendedKeyUsage) {

        /** A TLS server certificate for {@code commonName}, valid from an hour ago for 90 days. */
        public static Spec server(String commonName, String... dnsNames) {
            Instant now = Instant.now();
            return new Spec(commonName, java.util.List.of(dnsNames), now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(90)),
                    false, KeyUsage.digitalSignature | KeyUsage.keyEncipherment,
                    new org.bouncycastle.asn1.x509.KeyPurposeId[] {org.bouncycastle.asn1.x509.KeyPurposeId.id_kp_serverAuth,
                        org.bouncycastle.asn1.x509.KeyPurposeId.id_kp_clientAuth});
        }

        /** An intermediate CA, valid from an hour ago for a year. */
        public static Spec intermediate(String commonName) {
            Instant now = Instant.now();
            return new Spec(commonName, java.util.List.of(), now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(365)),
                    true, KeyUsage.keyCertSign | KeyUsage.cRLSign, null);
        }

        public Spec validity(Instant from, Instant to) {
            return new Spec(commonName, dnsNames, from, to, ca, keyUsage, extendedKeyUsage);
        }

        public Spec usage(int ku, org.bouncycastle.asn1.x509.KeyPurposeId... eku) {
            return new Spec(commonName, dnsNames, notBefore, notAfter, ca, ku, eku.length == 0 ? null : eku);
        }
    }

    /** A new EC P-256 key pair. */
    public static KeyPair ecKeys() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(256);
            return g.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A new RSA key pair of {@code bits} bits. */
    public static KeyPair rsaKeys(int bits) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(bits);
            return g.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A PKCS#12 file (the JDK's defaults) protected by {@code password}: {@code key} with
     * {@code chain} (leaf first) as one key entry, or, with {@code key} null, the certificates
     * as trusted-certificate entries only. The key is not checked against the leaf, so a test
     * can make a file whose key does not belong to its certificate.
     */
    public static byte[] pkcs12(java.security.PrivateKey key, String password, X509Certificate... chain) {
        try {
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            if (key != null) {
                ks.setKeyEntry("key", key, password.toCharArray(), chain);
            } else {
                for (int i = 0; i < chain.length; i++) {
                    ks.setCertificateEntry("cert" + i, chain[i]);
                }
            }
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            ks.store(out, password.toCharArray());
            return out.toByteArray();
        } catch (java.security.GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException("could not make a test PKCS#12 file", e);
        }
    }

    /** A certificate for {@code subjectKey} issued (signed) by {@code issuer}. */
    public static X509Certificate issue(Issued issuer, java.security.PublicKey subjectKey, Spec spec) {
        try {
            X500Name name = new X500Name("O=tlsgate tests,CN=" + spec.commonName());
            X500Name issuerName = X500Name.getInstance(issuer.certificate().getSubjectX500Principal().getEncoded());
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName,
                    new BigInteger(64, new SecureRandom()), Date.from(spec.notBefore()), Date.from(spec.notAfter()), name,
                    subjectKey);
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(spec.ca()));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(spec.keyUsage()));
            if (spec.extendedKeyUsage() != null) {
                b.addExtension(Extension.extendedKeyUsage, false,
                        new org.bouncycastle.asn1.x509.ExtendedKeyUsage(spec.extendedKeyUsage()));
            }
            if (!spec.dnsNames().isEmpty()) {
                b.addExtension(Extension.subjectAlternativeName, false, new org.bouncycastle.asn1.x509.GeneralNames(
                        spec.dnsNames().stream().map(n -> n.startsWith("IP:")
                                ? new org.bouncycastle.asn1.x509.GeneralName(org.bouncycastle.asn1.x509.GeneralName.iPAddress,
                                        n.substring(3))
                                : n.startsWith("URI:")
                                ? new org.bouncycastle.asn1.x509.GeneralName(
                                        org.bouncycastle.asn1.x509.GeneralName.uniformResourceIdentifier, n.substring(4))
                                : new org.bouncycastle.asn1.x509.GeneralName(org.bouncycastle.asn1.x509.GeneralName.dNSName, n))
                                .toArray(org.bouncycastle.asn1.x509.GeneralName[]::new)));
            }
            String alg = issuer.keys().getPrivate().getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
            return new JcaX509CertificateConverter()
                    .getCertificate(b.build(new JcaContentSignerBuilder(alg).build(issuer.keys().getPrivate())));
        } catch (Exception e) {
            throw new IllegalStateException("could not issue a test certificate", e);
        }
    }

    /** An intermediate CA with a fresh key, issued by {@code issuer}. */
    public static Issued intermediate(Issued issuer, String commonName) {
        KeyPair kp = ecKeys();
        return new Issued(kp, issue(issuer, kp.getPublic(), Spec.intermediate(commonName)));
    }

    /** The public key of a PEM certificate signing request. */
    public static java.security.PublicKey csrPublicKey(String csrPem) {
        try (org.bouncycastle.openssl.PEMParser p = new org.bouncycastle.openssl.PEMParser(new java.io.StringReader(csrPem))) {
            org.bouncycastle.pkcs.PKCS10CertificationRequest req = (org.bouncycastle.pkcs.PKCS10CertificationRequest) p.readObject();
            return new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest(req)
                    .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider()).getPublicKey();
        } catch (Exception e) {
            throw new IllegalStateException("not a CSR", e);
        }
    }

    /** PEM encoding of a certificate (or key). */
    public static String pem(Object o) {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(o);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return w.toString();
    }

    /** A key manager for {@code keys} presenting {@code chain} (leaf first). */
    public static javax.net.ssl.KeyManagerFactory keyManagers(KeyPair keys, X509Certificate... chain) {
        try {
            java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("k", keys.getPrivate(), new char[0], chain);
            javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance(
                    javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, new char[0]);
            return kmf;
        } catch (java.security.GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A TLS context for a test server presenting {@code chain}; with {@code trusted} not null,
     * client certificates issued by it are accepted (otherwise the JDK's defaults apply).
     */
    public static javax.net.ssl.SSLContext serverContext(KeyPair keys, X509Certificate trusted, X509Certificate... chain) {
        try {
            javax.net.ssl.TrustManager[] tms = null;
            if (trusted != null) {
                java.security.KeyStore ts = java.security.KeyStore.getInstance("PKCS12");
                ts.load(null, null);
                ts.setCertificateEntry("trusted", trusted);
                javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance("PKIX");
                tmf.init(ts);
                tms = tmf.getTrustManagers();
            }
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(keyManagers(keys, chain).getKeyManagers(), tms, null);
            return ctx;
        } catch (java.security.GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
