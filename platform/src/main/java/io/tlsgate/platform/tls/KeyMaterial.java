package io.tlsgate.platform.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Turning what cert-service serves (a PKCS#8 key and a DER chain; PEM CA certificates) into
 * what JSSE takes, for the services that present or verify certificates. The key lives only in
 * the returned key manager, in memory; it is never logged.
 */
public final class KeyMaterial {

    private static final List<X509Certificate> SYSTEM = loadSystemAnchors();

    private KeyMaterial() {
    }

    /**
     * A key manager holding one key and its chain (leaf first).
     *
     * @throws IllegalStateException saying why the material cannot be used (no key bytes in the message)
     */
    public static KeyManagerFactory keyManagers(String alias, String keyAlgorithm, byte[] pkcs8, List<byte[]> chainDer) {
        try {
            PrivateKey key = privateKey(keyAlgorithm, pkcs8);
            List<X509Certificate> chain = certificates(chainDer);
            char[] pw = new char[0];
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry(alias, key, pw, chain.toArray(new Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            return kmf;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(e.getClass().getSimpleName() + ": " + e.getMessage(), e);
        }
    }

    /** A PKCS#8 private key ({@code RSA} or {@code EC}). */
    public static PrivateKey privateKey(String algorithm, byte[] pkcs8) throws GeneralSecurityException {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
    }

    /** X.509 certificates from their DER encodings, in order. */
    public static List<X509Certificate> certificates(List<byte[]> der) throws GeneralSecurityException {
        CertificateFactory f = CertificateFactory.getInstance("X.509");
        List<X509Certificate> out = new ArrayList<>();
        for (byte[] d : der) {
            out.add((X509Certificate) f.generateCertificate(new ByteArrayInputStream(d)));
        }
        return out;
    }

    /** The certificates in a PEM text; empty when it holds none or cannot be read. */
    public static List<X509Certificate> pem(String pem) {
        try {
            return Pem.certificates(pem);
        } catch (GeneralSecurityException e) {
            return List.of();
        }
    }

    /** The JDK's default trust anchors (the system CA bundle). */
    public static List<X509Certificate> systemAnchors() {
        return SYSTEM;
    }

    private static List<X509Certificate> loadSystemAnchors() {
        try {
            TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            f.init((KeyStore) null);
            return Arrays.stream(f.getTrustManagers()).filter(X509TrustManager.class::isInstance)
                    .flatMap(t -> Arrays.stream(((X509TrustManager) t).getAcceptedIssuers())).toList();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
