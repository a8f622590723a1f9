package io.tlsgate.cert.keys;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.SecureRandom;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** Envelope encryption: round trip, binding to the owner, tampering, the wrong master key. */
class KeyVaultTest {

    private static String masterKey() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return Base64.getEncoder().encodeToString(b);
    }

    private static final byte[] SECRET = "-- a PKCS#8 private key would be here --".getBytes();

    @Test
    void sealsAndOpensAndNeverStoresThePlaintext() {
        KeyVault v = new KeyVault(masterKey());
        KeyVault.Sealed s = v.seal(SECRET, "mail");
        assertFalse(new String(s.ciphertext()).contains("private key"));
        assertArrayEquals(SECRET, v.open(s, "mail"));
        // Two seals of the same key share nothing: fresh data key and nonces each time.
        KeyVault.Sealed t = v.seal(SECRET, "mail");
        assertFalse(java.util.Arrays.equals(s.ciphertext(), t.ciphertext()));
        assertFalse(java.util.Arrays.equals(s.wrappedDataKey(), t.wrappedDataKey()));
    }

    @Test
    void aSealedKeyOpensOnlyForItsOwnerAndUntouched() {
        KeyVault v = new KeyVault(masterKey());
        KeyVault.Sealed s = v.seal(SECRET, "mail");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> v.open(s, "other"));
        assertTrue(e.getMessage().contains("does not open"), e.getMessage());
        byte[] bad = s.ciphertext().clone();
        bad[3] ^= 1;
        assertThrows(IllegalStateException.class, () -> v.open(new KeyVault.Sealed(bad, s.nonce(), s.wrappedDataKey(),
                s.dataKeyNonce(), s.masterKeyId()), "mail"));
    }

    @Test
    void theWrongMasterKeyIsNamedAsSuch() {
        KeyVault.Sealed s = new KeyVault(masterKey()).seal(SECRET, "mail");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new KeyVault(masterKey()).open(s, "mail"));
        assertTrue(e.getMessage().contains("sealed under master key"), e.getMessage());
    }

    @Test
    void aMasterKeyMustBe32Base64Bytes() {
        assertThrows(IllegalStateException.class, () -> new KeyVault("not base64!"));
        assertThrows(IllegalStateException.class, () -> new KeyVault(Base64.getEncoder().encodeToString(new byte[16])));
    }

    @Test
    void duringARotationKeysUnderTheOldMasterKeyOpenAndAreRewrappedUnderTheNewOne() {
        String oldKey = masterKey();
        String newKey = masterKey();
        KeyVault before = new KeyVault(oldKey);
        KeyVault.Sealed s = before.seal(SECRET, "mail");
        KeyVault during = new KeyVault(newKey, java.util.List.of(oldKey));
        assertArrayEquals(SECRET, during.open(s, "mail"), "the old master key still opens");
        KeyVault.Sealed moved = during.rewrap(s, "mail");
        assertTrue(moved.masterKeyId().equals(during.masterKeyId()) && !moved.masterKeyId().equals(s.masterKeyId()));
        assertArrayEquals(s.ciphertext(), moved.ciphertext(), "only the data key is re-sealed");
        assertFalse(java.util.Arrays.equals(s.wrappedDataKey(), moved.wrappedDataKey()));
        assertTrue(moved == during.rewrap(moved, "mail"), "a key under the current master key stays as it is");
        KeyVault after = new KeyVault(newKey);
        assertArrayEquals(SECRET, after.open(moved, "mail"), "after the rotation the old key is not needed");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> after.open(s, "mail"));
        assertTrue(e.getMessage().contains("tlsgate.cert.previous-master-keys") && e.getMessage().contains(s.masterKeyId()),
                e.getMessage());
        assertFalse(e.getMessage().contains(oldKey) || e.getMessage().contains(newKey), "no key in the message");
        assertThrows(IllegalStateException.class, () -> after.rewrap(s, "mail"));
        assertThrows(IllegalStateException.class, () -> during.rewrap(s, "other"), "the owner binding holds");
    }
}
