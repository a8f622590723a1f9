package io.tlsgate.cert.certs;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;

/** The key types a certificate can be generated with (docs/certificates.md). */
public enum KeyType {
    RSA_2048("RSA", 2048, null, "SHA256withRSA"),
    RSA_3072("RSA", 3072, null, "SHA256withRSA"),
    RSA_4096("RSA", 4096, null, "SHA256withRSA"),
    EC_P256("EC", 256, "secp256r1", "SHA256withECDSA"),
    EC_P384("EC", 384, "secp384r1", "SHA384withECDSA");

    private final String algorithm;
    private final int bits;
    private final String curve;
    private final String signature;

    KeyType(String algorithm, int bits, String curve, String signature) {
        this.algorithm = algorithm;
        this.bits = bits;
        this.curve = curve;
        this.signature = signature;
    }

    public String algorithm() {
        return algorithm;
    }

    /** The JCA signature algorithm for certificates and CSRs signed with this key. */
    public String signatureAlgorithm() {
        return signature;
    }

    public KeyPair generate() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm);
            if (curve != null) {
                g.initialize(new ECGenParameterSpec(curve));
            } else {
                g.initialize(bits);
            }
            return g.generateKeyPair();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate a " + this + " key: " + e.getMessage(), e);
        }
    }

    /** The type of an existing public key; empty for kinds and sizes tlsgate does not generate. */
    public static java.util.Optional<KeyType> of(PublicKey key) {
        if (key instanceof RSAPublicKey rsa) {
            int n = rsa.getModulus().bitLength();
            for (KeyType t : values()) {
                if (t.curve == null && t.bits == n) {
                    return java.util.Optional.of(t);
                }
            }
        } else if (key instanceof ECPublicKey ec) {
            int n = ec.getParams().getCurve().getField().getFieldSize();
            for (KeyType t : values()) {
                if (t.curve != null && t.bits == n) {
                    return java.util.Optional.of(t);
                }
            }
        }
        return java.util.Optional.empty();
    }

    /** A short description of any public key ({@code RSA-2048}, {@code EC-256}). */
    public static String describe(PublicKey key) {
        if (key instanceof RSAPublicKey rsa) {
            return "RSA-" + rsa.getModulus().bitLength();
        }
        if (key instanceof ECPublicKey ec) {
            return "EC-" + ec.getParams().getCurve().getField().getFieldSize();
        }
        return key.getAlgorithm();
    }
}
