package io.tlsgate.core.smtp;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.LocalDate;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Bounce address tagging (BATV, the {@code prvs} scheme of draft-levine-smtp-batv-01; docs/bounce-verification.md).
 * delivery-service rewrites the envelope sender {@code local@domain} of mail to a destination
 * with {@code bounceVerification} on to
 *
 * <pre>prvs=KDDDSSSSSS=local@domain</pre>
 *
 * where {@code K} is the key's number (one digit), {@code DDD} the last three digits of the
 * day the tag expires (days since 1970-01-01, UTC) and {@code SSSSSS} the first six hex digits
 * of HMAC-SHA1 under key K of {@code KDDD} followed by the address in lower case. A bounce
 * (null sender) coming back to such an address is real when the tag verifies with a key we
 * hold and has not expired; the listener then queues it for the untagged address.
 *
 * <p>Keys are given as {@code K:base64-secret} (at least 16 bytes); the first one tags, all of
 * them verify, so a new key goes first and an old one stays until its tags expired.
 * Security-sensitive: the secrets are never logged.
 */
public final class BounceTags {

    /** What checking a recipient found. */
    public enum Verdict {
        /** No tag: the address as given. */
        UNTAGGED,
        /** A tag that verifies and has not expired. */
        VALID,
        /** A tag that does not verify (unknown key, wrong signature) or has expired. */
        INVALID
    }

    /** The verdict, and the address without its tag (the address itself when untagged or invalid). */
    public record Checked(Verdict verdict, String address) {}

    private static final Pattern TAGGED = Pattern.compile("(?i)prvs=([0-9])([0-9]{3})([0-9a-f]{6})=(.+@.+)");
    private static final Pattern KEY = Pattern.compile("([0-9]):(.+)");
    private static final int MIN_SECRET = 16;

    private final Map<Integer, byte[]> keys;
    private final int current;
    private final int validDays;

    private BounceTags(Map<Integer, byte[]> keys, int current, int validDays) {
        this.keys = keys;
        this.current = current;
        this.validDays = validDays;
    }

    /**
     * Tags for {@code validDays} days (1..365) with the first of {@code keys}; throws
     * {@link IllegalArgumentException} naming what is wrong with a key (never its secret).
     */
    public static BounceTags of(List<String> keys, int validDays) {
        if (keys.isEmpty()) {
            throw new IllegalArgumentException("no key");
        }
        if (validDays < 1 || validDays > 365) {
            throw new IllegalArgumentException("the validity must be 1 to 365 days, not " + validDays);
        }
        Map<Integer, byte[]> out = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i++) {
            Matcher m = KEY.matcher(keys.get(i).trim());
            if (!m.matches()) {
                throw new IllegalArgumentException("key " + (i + 1) + " is not K:base64-secret (K one digit)");
            }
            byte[] secret;
            try {
                secret = Base64.getDecoder().decode(m.group(2));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("key " + (i + 1) + ": the secret is not base64", e);
            }
            if (secret.length < MIN_SECRET) {
                throw new IllegalArgumentException("key " + (i + 1) + ": the secret must have at least " + MIN_SECRET + " bytes");
            }
            if (out.put(Integer.parseInt(m.group(1)), secret) != null) {
                throw new IllegalArgumentException("key number " + m.group(1) + " is given twice");
            }
        }
        return new BounceTags(out, out.keySet().iterator().next(), validDays);
    }

    /** {@code sender} tagged on {@code today} (UTC); the null sender and addresses without a domain stay as they are. */
    public String tag(String sender, LocalDate today) {
        if (sender == null || sender.isEmpty() || sender.indexOf('@') <= 0 || TAGGED.matcher(sender).matches()) {
            return sender;
        }
        String kddd = current + String.format(Locale.ROOT, "%03d", (today.toEpochDay() + validDays) % 1000);
        return "prvs=" + kddd + signature(keys.get(current), kddd, sender) + "=" + sender;
    }

    /** Whether {@code recipient} carries a tag, and if so whether it verifies on {@code today}. */
    public Checked check(String recipient, LocalDate today) {
        Matcher m = TAGGED.matcher(recipient);
        if (!m.matches()) {
            return new Checked(Verdict.UNTAGGED, recipient);
        }
        byte[] key = keys.get(Integer.parseInt(m.group(1)));
        String address = m.group(4);
        if (key == null) {
            return new Checked(Verdict.INVALID, recipient);
        }
        // Days left until the expiry day, modulo the three digits: 0..validDays while the tag is good.
        long left = Math.floorMod(Integer.parseInt(m.group(2)) - today.toEpochDay(), 1000);
        byte[] expected = signature(key, m.group(1) + m.group(2), address).getBytes(StandardCharsets.US_ASCII);
        byte[] given = m.group(3).toLowerCase(Locale.ROOT).getBytes(StandardCharsets.US_ASCII);
        if (left > validDays || !MessageDigest.isEqual(expected, given)) {
            return new Checked(Verdict.INVALID, recipient);
        }
        return new Checked(Verdict.VALID, address);
    }

    /** Whether {@code address} looks tagged (whether or not the tag is good). */
    public static boolean tagged(String address) {
        return TAGGED.matcher(address).matches();
    }

    /** The untagged address of a tagged one, without checking the tag. */
    public static Optional<String> untagged(String address) {
        Matcher m = TAGGED.matcher(address);
        return m.matches() ? Optional.of(m.group(4)) : Optional.empty();
    }

    private static String signature(byte[] key, String kddd, String address) {
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(key, "HmacSHA1"));
            byte[] h = mac.doFinal((kddd + address.toLowerCase(Locale.ROOT)).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h, 0, 3);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA1 is not available", e);
        }
    }
}
