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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * <p>Rotation: a new master key goes into {@code tlsgate.cert.master-key} and the old one into
 * {@code tlsgate.cert.previous-master-keys}; keys sealed under either open, new seals use the
 * new one, and {@link #rewrap} moves a sealed key to the new one by re-sealing only its data
 * key ({@link MasterKeyRotation} does that for every stored key). Once no key is left on an old
 * master key (the metric {@code tlsgate.cert.keys.previous.master}), it can be removed.
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
    /** Every master key that opens, by id: the current one and the previous ones. */
    private final Map<String, SecretKey> opening = new LinkedHashMap<>();
    private final SecureRandom random = new SecureRandom();

    @Inject
    KeyVault(CertConfig config) {
        this(config.masterKey(), config.previousMasterKeys().orElse(List.of()));
    }

    /** A vault for a base64 master key of 32 bytes. */
    public KeyVault(String masterKeyBase64) {
        this(masterKeyBase64, List.of());
    }

    /** A vault sealing with {@code masterKeyBase64} and opening with it and the {@code previous} ones. */
    public KeyVault(String masterKeyBase64, List<String> previous) {
        master = key(masterKeyBase64, "tlsgate.cert.master-key");
        masterId = id(master.getEncoded());
        opening.put(masterId, master);
        for (String p : previous) {
            SecretKey k = key(p, "tlsgate.cert.previous-master-keys");
            opening.putIfAbsent(id(k.getEncoded()), k);
        }
    }

    private static SecretKey key(String base64, String setting) {
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(base64.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(setting + " is not base64");
        }
        if (raw.length != 32) {
            throw new IllegalStateException(setting + " must be 32 bytes (base64 of 32 random bytes), is " + raw.length);
        }
        SecretKey k = new SecretKeySpec(raw, "AES");
        Arrays.fill(raw, (byte) 0);
        return k;
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
        byte[] dataKey = gcm(Cipher.DECRYPT_MODE, masterOf(s, owner), s.dataKeyNonce(), owner, s.wrappedDataKey());
        try {
            return gcm(Cipher.DECRYPT_MODE, new SecretKeySpec(dataKey, "AES"), s.nonce(), owner, s.ciphertext());
        } finally {
            Arrays.fill(dataKey, (byte) 0);
        }
    }

    /**
     * {@code s} sealed under the current master key: the same sealed key when it already is, else
     * its data key re-sealed (the key itself and its ciphertext do not change).
     *
     * @throws IllegalStateException when no configured master key opens it
     */
    public Sealed rewrap(Sealed s, String owner) {
        if (s.masterKeyId().equals(masterId)) {
            return s;
        }
        byte[] dataKey = gcm(Cipher.DECRYPT_MODE, masterOf(s, owner), s.dataKeyNonce(), owner, s.wrappedDataKey());
        try {
            byte[] dkNonce = nonce();
            return new Sealed(s.ciphertext(), s.nonce(), gcm(Cipher.ENCRYPT_MODE, master, dkNonce, owner, dataKey), dkNonce,
                    masterId);
        } finally {
            Arrays.fill(dataKey, (byte) 0);
        }
    }

    private SecretKey masterOf(Sealed s, String owner) {
        SecretKey k = opening.get(s.masterKeyId());
        if (k == null) {
            throw new IllegalStateException("the private key of '" + owner + "' was sealed under master key "
                    + s.masterKeyId() + ", which is not configured (tlsgate.cert.master-key is " + masterId
                    + "; add the old key to tlsgate.cert.previous-master-keys)");
        }
        return k;
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
