package io.tlsgate.core.inbound;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.dns.DomainName;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A table keyed by recipient domain, as the recipient access table and SMTP routes are:
 * {@code example.com} matches exactly that domain; {@code .example.com} matches every
 * subdomain (not the domain itself), the longest suffix winning; {@code ALL}, where the table
 * allows it, matches anything else. Exact beats suffix beats ALL.
 */
public final class DomainTable<V> {

    public static final String ALL = "ALL";

    /** A parsed key: its normalised text and whether it is exact, a suffix or ALL. */
    public record Key(String text, boolean suffix, boolean all) {}

    /** What a lookup found: the matching key's text and its value. */
    public record Match<V>(String key, V value) {}

    private final Map<String, V> exact = new HashMap<>();
    private final Map<String, V> suffixes = new HashMap<>();
    private V all;

    /**
     * Parses a key as an operator writes it ({@code example.com}, {@code .example.com}, and
     * {@code ALL} when {@code allowAll}).
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public static Key parseKey(String raw, boolean allowAll) {
        if (raw == null || raw.isBlank()) {
            throw new IllegalArgumentException("domain is empty");
        }
        String s = raw.trim();
        if (s.toUpperCase(Locale.ROOT).equals(ALL)) {
            if (!allowAll) {
                throw new IllegalArgumentException("ALL is not allowed here");
            }
            return new Key(ALL, false, true);
        }
        if (s.startsWith("[") || DestinationKey.parseAddress(s) != null || s.contains("/")) {
            throw new IllegalArgumentException("'" + raw + "' is not a domain (addresses are not allowed here)");
        }
        if (s.startsWith(".")) {
            return new Key("." + DomainName.normalise(s.substring(1)), true, false);
        }
        return new Key(DomainName.normalise(s), false, false);
    }

    public void put(Key key, V value) {
        if (key.all()) {
            all = value;
        } else if (key.suffix()) {
            suffixes.put(key.text(), value);
        } else {
            exact.put(key.text(), value);
        }
    }

    public int size() {
        return exact.size() + suffixes.size() + (all == null ? 0 : 1);
    }

    /** The entry for a normalised domain, or null when nothing matches. */
    public Match<V> lookup(String normalisedDomain) {
        V v = exact.get(normalisedDomain);
        if (v != null) {
            return new Match<>(normalisedDomain, v);
        }
        for (int dot = normalisedDomain.indexOf('.'); dot >= 0; dot = normalisedDomain.indexOf('.', dot + 1)) {
            String s = normalisedDomain.substring(dot);
            v = suffixes.get(s);
            if (v != null) {
                return new Match<>(s, v);
            }
        }
        return all == null ? null : new Match<>(ALL, all);
    }
}
