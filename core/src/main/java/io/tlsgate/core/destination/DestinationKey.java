package io.tlsgate.core.destination;

import io.tlsgate.core.dns.DomainName;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * The key of a destination-control entry (docs/destination-controls.md), parsed and normalised:
 * <ul>
 *   <li>{@code default}: the default entry;</li>
 *   <li>{@code example.com}: exactly that domain ({@link Kind#DOMAIN});</li>
 *   <li>{@code .example.com}: every subdomain, not the domain itself ({@link Kind#SUFFIX});</li>
 *   <li>{@code 192.0.2.10}, {@code [192.0.2.10]}, {@code 2001:db8::1}: one next-hop address
 *       ({@link Kind#ADDRESS});</li>
 *   <li>{@code 192.0.2.0/24}, {@code 2001:db8::/32}: a network ({@link Kind#CIDR}).</li>
 * </ul>
 * Domains are IDNA A-labels in lower case without a trailing dot; addresses are in their
 * canonical text form (IPv6 compressed, lower case); a CIDR with host bits set is refused
 * rather than silently widened. Parsing never touches DNS.
 *
 * @param text the normalised key, as stored and shown
 * @param address network address bytes (4 or 16) for ADDRESS and CIDR, else null
 * @param prefix prefix length for ADDRESS (32/128) and CIDR, else -1
 */
public record DestinationKey(String text, Kind kind, byte[] address, int prefix) {

    /** What a key matches. */
    public enum Kind { DEFAULT, DOMAIN, SUFFIX, ADDRESS, CIDR }

    public static final String DEFAULT_TEXT = "default";
    public static final DestinationKey DEFAULT = new DestinationKey(DEFAULT_TEXT, Kind.DEFAULT, null, -1);

    /**
     * Parses a key as an operator writes it.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public static DestinationKey parse(String raw) {
        if (raw == null || raw.isBlank()) {
            throw new IllegalArgumentException("key is empty");
        }
        String s = raw.trim();
        if (s.equalsIgnoreCase(DEFAULT_TEXT)) {
            return DEFAULT;
        }
        if (s.startsWith("[") && s.endsWith("]")) {
            s = s.substring(1, s.length() - 1);
            byte[] a = parseAddress(s);
            if (a == null) {
                throw new IllegalArgumentException("'" + raw + "' is not an IP address");
            }
            return address(a);
        }
        int slash = s.indexOf('/');
        if (slash >= 0) {
            return cidr(raw, s.substring(0, slash), s.substring(slash + 1));
        }
        byte[] a = parseAddress(s);
        if (a != null) {
            return address(a);
        }
        if (looksNumeric(s)) {
            throw new IllegalArgumentException("'" + raw + "' is not a valid IP address");
        }
        if (s.startsWith(".")) {
            String d = DomainName.normalise(s.substring(1));
            return new DestinationKey("." + d, Kind.SUFFIX, null, -1);
        }
        return new DestinationKey(DomainName.normalise(s), Kind.DOMAIN, null, -1);
    }

    /** Whether this is the default entry's key. */
    public boolean isDefault() {
        return kind == Kind.DEFAULT;
    }

    /** Whether the key names addresses (ADDRESS or CIDR). */
    public boolean isNetwork() {
        return kind == Kind.ADDRESS || kind == Kind.CIDR;
    }

    /**
     * Parses an IP literal (IPv4 dotted quad, or IPv6 text) without DNS; null when it is not one.
     * IPv4 octets with leading zeros are refused (their meaning differs between tools).
     */
    public static byte[] parseAddress(String s) {
        if (s == null || s.isEmpty()) {
            return null;
        }
        if (s.indexOf(':') >= 0) {
            if (!s.matches("[0-9A-Fa-f:.]+")) {
                return null;
            }
            try {
                // A string with ':' made only of hex digits, ':' and '.' is parsed as an IPv6
                // literal; InetAddress never resolves it.
                // An IPv4-mapped address (::ffff:192.0.2.1) comes back as the IPv4 address.
                return InetAddress.getByName(s).getAddress();
            } catch (UnknownHostException e) {
                return null;
            }
        }
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            return null;
        }
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)
                    || (p.length() > 1 && p.charAt(0) == '0')) {
                return null;
            }
            int v = Integer.parseInt(p);
            if (v > 255) {
                return null;
            }
            out[i] = (byte) v;
        }
        return out;
    }

    /** Canonical text of an address: dotted quad, or compressed lower-case IPv6. */
    public static String format(byte[] a) {
        try {
            InetAddress ia = InetAddress.getByAddress(a);
            if (ia instanceof Inet6Address) {
                return compressV6(a);
            }
            return ia.getHostAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static DestinationKey address(byte[] a) {
        return new DestinationKey(format(a), Kind.ADDRESS, a, a.length * 8);
    }

    private static DestinationKey cidr(String raw, String addr, String len) {
        byte[] a = parseAddress(addr);
        if (a == null) {
            throw new IllegalArgumentException("'" + raw + "' is not a valid CIDR: bad address");
        }
        int max = a.length * 8;
        int prefix;
        if (len.isEmpty() || len.length() > 3 || !len.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("'" + raw + "' is not a valid CIDR: bad prefix length");
        }
        prefix = Integer.parseInt(len);
        if (prefix > max) {
            throw new IllegalArgumentException("'" + raw + "' is not a valid CIDR: prefix longer than " + max);
        }
        byte[] net = mask(a, prefix);
        if (!java.util.Arrays.equals(net, a)) {
            throw new IllegalArgumentException("'" + raw + "' has host bits set; the network is "
                    + format(net) + "/" + prefix);
        }
        if (prefix == max) {
            return address(a);
        }
        return new DestinationKey(format(net) + "/" + prefix, Kind.CIDR, net, prefix);
    }

    /** {@code a} with every bit after the first {@code prefix} cleared. */
    public static byte[] mask(byte[] a, int prefix) {
        byte[] out = a.clone();
        for (int i = 0; i < out.length; i++) {
            int bits = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] = (byte) (out[i] & (0xff << (8 - bits)));
        }
        return out;
    }

    private static boolean looksNumeric(String s) {
        return s.chars().allMatch(c -> Character.isDigit(c) || c == '.') && s.chars().anyMatch(Character::isDigit);
    }

    /** RFC 5952 text: lower case, longest run of two or more zero groups as "::". */
    private static String compressV6(byte[] a) {
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) {
            g[i] = ((a[2 * i] & 0xff) << 8) | (a[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLen = 0;
        for (int i = 0; i < 8;) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0) {
                j++;
            }
            if (j - i > bestLen && j - i >= 2) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                b.append("::");
                i += bestLen - 1;
                continue;
            }
            if (b.length() > 0 && b.charAt(b.length() - 1) != ':') {
                b.append(':');
            }
            b.append(Integer.toHexString(g[i]));
        }
        return b.toString().toLowerCase(Locale.ROOT);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DestinationKey k && k.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }

    @Override
    public String toString() {
        return text;
    }
}
