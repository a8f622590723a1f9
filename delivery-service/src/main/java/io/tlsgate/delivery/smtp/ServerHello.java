package io.tlsgate.delivery.smtp;

import java.util.Locale;

/**
 * The key exchange of a TLS handshake, read from the server's first plaintext records (RFC
 * 8446 §4.1.3 key_share of the ServerHello; RFC 8422 §5.4 / RFC 5246 §7.4.3 ServerKeyExchange
 * for TLS 1.2), which the JDK's TLS does not report: {@code x25519}, {@code secp256r1},
 * {@code ffdhe2048}, {@code DHE 2048-bit}, {@code RSA (no forward secrecy)}. Null when the
 * records do not tell.
 */
final class ServerHello {

    private static final int HANDSHAKE = 22;
    private static final int SERVER_HELLO = 2;
    private static final int SERVER_KEY_EXCHANGE = 12;
    private static final int KEY_SHARE = 0x0033;

    private ServerHello() {}

    /** From {@code records} (the bytes the server sent from its first TLS record on), the protocol and suite agreed. */
    static String keyExchange(byte[] records, String protocol, String cipherSuite) {
        byte[] hs = handshakeBytes(records);
        String suite = cipherSuite == null ? "" : cipherSuite.toUpperCase(Locale.ROOT);
        int p = 0;
        while (p + 4 <= hs.length) {
            int type = hs[p] & 0xff;
            int len = u24(hs, p + 1);
            int body = p + 4;
            if (body + len > hs.length) {
                break;
            }
            if (type == SERVER_HELLO) {
                Integer group = keyShareGroup(hs, body, len);
                if (group != null) {
                    return group(group); // TLS 1.3 (or a HelloRetryRequest's chosen group)
                }
            } else if (type == SERVER_KEY_EXCHANGE && len >= 3) {
                if (suite.contains("_ECDHE_") && (hs[body] & 0xff) == 3) {
                    return group(u16(hs, body + 1)); // named_curve
                }
                if (suite.contains("_DHE_")) {
                    return "DHE " + significantBits(hs, body + 2, u16(hs, body)) + "-bit";
                }
            }
            p = body + len;
        }
        if (suite.startsWith("TLS_RSA_")) {
            return "RSA (no forward secrecy)";
        }
        return null;
    }

    /** The payloads of the handshake records, in order, up to the first record of another type. */
    private static byte[] handshakeBytes(byte[] r) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        int p = 0;
        while (p + 5 <= r.length && (r[p] & 0xff) == HANDSHAKE) {
            int len = u16(r, p + 3);
            int end = Math.min(r.length, p + 5 + len);
            out.write(r, p + 5, end - p - 5);
            p = p + 5 + len;
        }
        return out.toByteArray();
    }

    /** The group of the ServerHello's key_share extension, null without one. */
    private static Integer keyShareGroup(byte[] b, int body, int len) {
        int end = body + len;
        int p = body + 2 + 32; // legacy_version, random
        if (p >= end) {
            return null;
        }
        p += 1 + (b[p] & 0xff); // legacy_session_id_echo
        p += 2 + 1; // cipher_suite, legacy_compression_method
        if (p + 2 > end) {
            return null;
        }
        int extEnd = Math.min(end, p + 2 + u16(b, p));
        p += 2;
        while (p + 4 <= extEnd) {
            int type = u16(b, p);
            int elen = u16(b, p + 2);
            if (type == KEY_SHARE && elen >= 2 && p + 6 <= extEnd) {
                return u16(b, p + 4);
            }
            p += 4 + elen;
        }
        return null;
    }

    /** The name of a TLS named group (IANA TLS Supported Groups). */
    static String group(int id) {
        return switch (id) {
            case 0x0017 -> "secp256r1";
            case 0x0018 -> "secp384r1";
            case 0x0019 -> "secp521r1";
            case 0x001d -> "x25519";
            case 0x001e -> "x448";
            case 0x0100 -> "ffdhe2048";
            case 0x0101 -> "ffdhe3072";
            case 0x0102 -> "ffdhe4096";
            case 0x0103 -> "ffdhe6144";
            case 0x0104 -> "ffdhe8192";
            case 0x11eb -> "SecP256r1MLKEM768";
            case 0x11ec -> "X25519MLKEM768";
            case 0x11ed -> "SecP384r1MLKEM1024";
            default -> String.format(Locale.ROOT, "group 0x%04x", id);
        };
    }

    private static int significantBits(byte[] b, int off, int len) {
        int i = off;
        int end = Math.min(b.length, off + len);
        while (i < end && b[i] == 0) {
            i++;
        }
        if (i == end) {
            return 0;
        }
        return (end - i - 1) * 8 + (32 - Integer.numberOfLeadingZeros(b[i] & 0xff));
    }

    private static int u16(byte[] b, int p) {
        return p + 1 < b.length ? ((b[p] & 0xff) << 8) | (b[p + 1] & 0xff) : 0;
    }

    private static int u24(byte[] b, int p) {
        return ((b[p] & 0xff) << 16) | ((b[p + 1] & 0xff) << 8) | (b[p + 2] & 0xff);
    }
}
