package io.tlsgate.cert.keys;

import io.tlsgate.cert.CertConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Envelope encryption of private keys at rest. Each key gets its own random 256-bit data key;
 * the PKCS#8 key is sealed with it (AES-256-GCM, 96-bit random nonce), and the data key is
 * sealed with the master key from configuration ({@code tlsgate.cert.master-key}, 32 bytes
 * base64, a Kubernetes Secret in a deployment). The owner's name is the associated data of
 * both seals, so a sealed key copied to another row does not open. The master key's id (the
 * first 16 hex digits of its SHA-256) is stored with every key, so a wrong master key is
 * reported as such instead of as corrupt data.
 *
 * <p>Security-sensitive: neither the master key nor any plaintext key is ever logged or
 * returned by an API; plaintext copies are zeroed after use where the JDK allows it.
 */
@ApplicationScoped
public class KeyVault {

    /** A sealed private key as stored. */
    public record Sealed(byte[] ciphertext, byte[] nonce, byte[] wrappedDataKey, byte[] dataKeyNonce, String masterKeyId) {}

    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;

    private final SecretKey master;
    private final String masterId;
    private final SecureRandom random = new SecureRandom();

    @Inject
    KeyVault(CertConfig config) {
        this(config.masterKey());
    }

    /** A vault for a base64 master key of 32 bytes. */
    public KeyVault(String masterKeyBase64) {
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(masterKeyBase64.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("tlsgate.cert.master-key is not base64");
        }
        if (raw.length != 32) {
            throw new IllegalStateException("tlsgate.cert.master-key must be 32 bytes (base64 of 32 random bytes), is "
                    + raw.length);
        }
        master = new SecretKeySpec(raw, "AES");
        masterId = id(raw);
        Arrays.fill(raw, (byte) 0);
    }

    /** The id of the configured master key. */
    public String masterKeyId() {
        return masterId;
    }

    /** Seals a PKCS#8-encoded private key for {@code owner}. */
    public Sealed seal(byte[] pkcs8, String owner) {
        byte[] dataKey = new byte[32];
        random.nextBytes(dataKey);
        try {
            byte[] nonce = nonce();
            byte[] ciphertext = gcm(Cipher.ENCRYPT_MODE, new SecretKeySpec(dataKey, "AES"), nonce, owner, pkcs8);
            byte[] dkNonce = nonce();
            byte[] wrapped = gcm(Cipher.ENCRYPT_MODE, master, dkNonce, owner, dataKey);
            return new Sealed(ciphertext, nonce, wrapped, dkNonce, masterId);
        } finally {
            Arrays.fill(dataKey, (byte) 0);
        }
    }

    /**
     * Opens a sealed key of {@code owner}.
     *
     * @throws IllegalStateException when it was sealed under another master key or was tampered with
     */
    public byte[] open(Sealed s, String owner) {
        if (!masterId.equals(s.masterKeyId())) {
            throw new IllegalStateException("the private key of '" + owner + "' was sealed under master key "
                    + s.masterKeyId() + ", but the configured master key is " + masterId);
        }
        byte[] dataKey = gcm(Cipher.DECRYPT_MODE, master, s.dataKeyNonce(), owner, s.wrappedDataKey());
        try {
            return gcm(Cipher.DECRYPT_MODE, new SecretKeySpec(dataKey, "AES"), s.nonce(), owner, s.ciphertext());
        } finally {
            Arrays.fill(dataKey, (byte) 0);
        }
    }

    private byte[] nonce() {
        byte[] n = new byte[NONCE_BYTES];
        random.nextBytes(n);
        return n;
    }

    private static byte[] gcm(int mode, SecretKey key, byte[] nonce, String owner, byte[] input) {
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(mode, key, new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(owner.getBytes(StandardCharsets.UTF_8));
            return c.doFinal(input);
        } catch (javax.crypto.AEADBadTagException e) {
            throw new IllegalStateException("the sealed private key of '" + owner + "' does not open: it was changed "
                    + "or belongs to another entry");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM failed: " + e.getMessage(), e);
        }
    }

    private static String id(byte[] raw) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw)).substring(0, 16);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
