package io.tlsgate.core.inbound;

import io.tlsgate.core.destination.DestinationKey;
import java.util.Locale;

/**
 * One entry of a sender group (docs/inbound-policy.md), parsed and normalised:
 * {@code ALL}; an IP address ({@code 192.0.2.10}, {@code 2001:db8::1}); a CIDR
 * ({@code 10.0.0.0/8}, {@code 2001:db8::/32}); an exact host name ({@code mx.example.com});
 * or a {@code .domain} suffix ({@code .example.com}: every name below it, not the name
 * itself). Host names and suffixes match only the client's <em>verified</em> reverse-DNS
 * name (PTR whose forward lookup leads back to the client's address): an unverified PTR is
 * chosen by whoever owns the address block and proves nothing.
 *
 * @param key the parsed key; null for {@code ALL}
 */
public record SenderPattern(String text, DestinationKey key) {

    public static final String ALL_TEXT = "ALL";
    public static final SenderPattern ALL = new SenderPattern(ALL_TEXT, null);

    /**
     * Parses an entry as an operator writes it.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public static SenderPattern parse(String raw) {
        if (raw == null || raw.isBlank()) {
            throw new IllegalArgumentException("sender entry is empty");
        }
        String s = raw.trim();
        if (s.toUpperCase(Locale.ROOT).equals(ALL_TEXT)) {
            return ALL;
        }
        if (s.equalsIgnoreCase(DestinationKey.DEFAULT_TEXT)) {
            throw new IllegalArgumentException("'" + raw + "' is not a sender entry (use ALL for everyone)");
        }
        DestinationKey k = DestinationKey.parse(s);
        return new SenderPattern(k.text(), k);
    }

    public boolean isAll() {
        return key == null;
    }

    /** Whether the entry matches every possible client: ALL, 0.0.0.0/0 or ::/0. */
    public boolean matchesEveryone() {
        return key == null || (key.kind() == DestinationKey.Kind.CIDR && key.prefix() == 0);
    }

    /**
     * Whether a client matches.
     *
     * @param address the client's address bytes (4 or 16)
     * @param verifiedHost the client's verified reverse-DNS name, normalised, or null
     */
    public boolean matches(byte[] address, String verifiedHost) {
        if (key == null) {
            return true;
        }
        return switch (key.kind()) {
            case ADDRESS -> address != null && java.util.Arrays.equals(address, key.address());
            case CIDR -> address != null && address.length == key.address().length
                    && java.util.Arrays.equals(DestinationKey.mask(address, key.prefix()), key.address());
            case DOMAIN -> verifiedHost != null && verifiedHost.equals(key.text());
            case SUFFIX -> verifiedHost != null && verifiedHost.endsWith(key.text());
            case DEFAULT -> false;
        };
    }
}
