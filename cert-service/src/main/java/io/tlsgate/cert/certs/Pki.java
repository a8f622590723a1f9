package io.tlsgate.cert.certs;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * Key pairs, self-signed certificates and CSRs (BouncyCastle). A generated certificate is an
 * end-entity certificate for TLS servers and clients: CA false, key usage digitalSignature
 * (plus keyEncipherment for RSA), extended key usage serverAuth and clientAuth, the common
 * name repeated as a DNS subjectAltName when the SANs do not include it.
 */
public final class Pki {

    private static final SecureRandom RANDOM = new SecureRandom();

    private Pki() {}

    /** What a certificate is for: the subject's fields and the DNS names. */
    public record Subject(String commonName, List<String> subjectAltNames, String organization, String organizationalUnit,
            String locality, String state, String country) {

        X500Name x500() {
            X500NameBuilder b = new X500NameBuilder(BCStyle.INSTANCE);
            if (country != null) {
                b.addRDN(BCStyle.C, country);
            }
            if (state != null) {
                b.addRDN(BCStyle.ST, state);
            }
            if (locality != null) {
                b.addRDN(BCStyle.L, locality);
            }
            if (organization != null) {
                b.addRDN(BCStyle.O, organization);
            }
            if (organizationalUnit != null) {
                b.addRDN(BCStyle.OU, organizationalUnit);
            }
            b.addRDN(BCStyle.CN, commonName);
            return b.build();
        }

        /** The SANs with the common name first when it is missing from them. */
        List<String> dnsNames() {
            List<String> out = new ArrayList<>();
            if (!subjectAltNames.contains(commonName)) {
                out.add(commonName);
            }
            out.addAll(subjectAltNames);
            return out;
        }
    }

    /** A self-signed certificate for {@code keys}, valid from now minus five minutes for {@code days}. */
    public static X509Certificate selfSigned(KeyPair keys, KeyType type, Subject subject, int days) {
        try {
            X500Name name = subject.x500();
            Instant now = Instant.now();
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, new BigInteger(127, new SecureRandom()),
                    Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(Duration.ofDays(days))), name,
                    keys.getPublic());
            org.bouncycastle.asn1.x509.Extensions exts = extensions(type, subject).generate();
            for (org.bouncycastle.asn1.ASN1ObjectIdentifier oid : exts.getExtensionOIDs()) {
                Extension e = exts.getExtension(oid);
                b.addExtension(e);
            }
            return new JcaX509CertificateConverter().getCertificate(b.build(signer(keys, type)));
        } catch (Exception e) {
            throw new IllegalStateException("could not make a self-signed certificate: " + e.getMessage(), e);
        }
    }

    /** A PKCS#10 request for {@code keys} asking for the same subject and extensions, as PEM. */
    public static String csr(KeyPair keys, KeyType type, Subject subject) {
        try {
            JcaPKCS10CertificationRequestBuilder b = new JcaPKCS10CertificationRequestBuilder(subject.x500(),
                    keys.getPublic());
            b.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions(type, subject).generate());
            return pem(b.build(signer(keys, type)));
        } catch (Exception e) {
            throw new IllegalStateException("could not make a CSR: " + e.getMessage(), e);
        }
    }

    /** Parses a PEM CSR (for tests and diagnostics). */
    public static PKCS10CertificationRequest parseCsr(String pem) throws IOException {
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            return (PKCS10CertificationRequest) p.readObject();
        }
    }

    private static ExtensionsGenerator extensions(KeyType type, Subject subject) throws IOException {
        ExtensionsGenerator g = new ExtensionsGenerator();
        g.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        int usage = KeyUsage.digitalSignature | (type.algorithm().equals("RSA") ? KeyUsage.keyEncipherment : 0);
        g.addExtension(Extension.keyUsage, true, new KeyUsage(usage));
        g.addExtension(Extension.extendedKeyUsage, false,
                new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
        List<String> names = subject.dnsNames();
        GeneralName[] sans = names.stream().map(n -> new GeneralName(GeneralName.dNSName, n)).toArray(GeneralName[]::new);
        g.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans));
        return g;
    }

    private static ContentSigner signer(KeyPair keys, KeyType type) throws OperatorCreationException {
        return new JcaContentSignerBuilder(type.signatureAlgorithm()).build(keys.getPrivate());
    }

    /** PEM text of a certificate, CSR or key. */
    public static String pem(Object o) {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(o);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return w.toString();
    }

    /**
     * Proves that {@code key} is the private half of {@code certificate}'s public key: signs
     * random data with the key and verifies the signature with the certificate's public key,
     * using {@code type}'s signature algorithm (SHA-256/384 with RSA or ECDSA).
     *
     * @return empty when the key belongs to the certificate, otherwise why not
     */
    public static java.util.Optional<String> keyMismatch(java.security.PrivateKey key, X509Certificate certificate,
            KeyType type) {
        java.security.PublicKey publicKey = certificate.getPublicKey();
        if (!type.algorithm().equals(key.getAlgorithm())) {
            return java.util.Optional.of("the private key does not match the certificate: it is an " + key.getAlgorithm()
                    + " key, the certificate holds a " + KeyType.describe(publicKey) + " public key");
        }
        byte[] data = new byte[64];
        RANDOM.nextBytes(data);
        try {
            java.security.Signature signer = java.security.Signature.getInstance(type.signatureAlgorithm());
            signer.initSign(key);
            signer.update(data);
            byte[] signature = signer.sign();
            java.security.Signature verifier = java.security.Signature.getInstance(type.signatureAlgorithm());
            verifier.initVerify(publicKey);
            verifier.update(data);
            if (verifier.verify(signature)) {
                return java.util.Optional.empty();
            }
        } catch (java.security.GeneralSecurityException | RuntimeException e) {
            return java.util.Optional.of("the private key does not match the certificate: a signature made with it "
                    + "cannot be verified with the certificate's " + KeyType.describe(publicKey) + " public key ("
                    + e.getMessage() + ")");
        }
        return java.util.Optional.of("the private key does not match the certificate: a signature made with it does "
                + "not verify with the certificate's " + KeyType.describe(publicKey) + " public key");
    }
}
