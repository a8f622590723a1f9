package io.tlsgate.core.destination;

import io.tlsgate.core.dns.DomainName;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An immutable in-memory index of the destination-control table that answers "which
 * settings apply?" (docs/destination-controls.md): the exact-domain entry, else the longest matching
 * {@code .suffix} entry, else the longest-prefix IP/CIDR entry of the next hop, else
 * {@code default}; every field the matched entry leaves as "use default" comes from the
 * default entry. Lookups allocate little and take no locks: build a new index to change it.
 *
 * <p>Domain and suffix lookups are hash lookups on the name and on each parent; address
 * lookups mask the address once per prefix length present in the table (at most 33 for IPv4,
 * 129 for IPv6).
 */
public final class DestinationIndex {

    private record Match(String key, DestinationSettings settings) {}

    private record V6(long hi, long lo) {}

    private final DestinationSettings defaults;
    private final Map<String, Match> exact = new HashMap<>();
    private final Map<String, Match> suffixes = new HashMap<>();
    private final List<Map<Integer, Match>> v4ByPrefix = new ArrayList<>(Collections.nCopies(33, null));
    private final List<Map<V6, Match>> v6ByPrefix = new ArrayList<>(Collections.nCopies(129, null));
    private final int[] v4Prefixes;
    private final int[] v6Prefixes;
    private final int size;

    private DestinationIndex(Map<DestinationKey, DestinationSettings> entries) {
        DestinationSettings d = entries.get(DestinationKey.DEFAULT);
        if (d == null || !d.isComplete()) {
            throw new IllegalArgumentException("the default entry is missing or has unset fields");
        }
        this.defaults = d;
        for (Map.Entry<DestinationKey, DestinationSettings> e : entries.entrySet()) {
            DestinationKey k = e.getKey();
            Match m = new Match(k.text(), e.getValue());
            switch (k.kind()) {
                case DEFAULT -> { }
                case DOMAIN -> exact.put(k.text(), m);
                case SUFFIX -> suffixes.put(k.text(), m);
                case ADDRESS, CIDR -> {
                    if (k.address().length == 4) {
                        slot(v4ByPrefix, k.prefix()).put(v4(k.address()), m);
                    } else {
                        slot(v6ByPrefix, k.prefix()).put(v6(k.address()), m);
                    }
                }
                default -> throw new IllegalStateException(k.kind().name());
            }
        }
        this.v4Prefixes = present(v4ByPrefix);
        this.v6Prefixes = present(v6ByPrefix);
        this.size = entries.size();
    }

    /**
     * Builds an index.
     *
     * @throws IllegalArgumentException when there is no complete default entry
     */
    public static DestinationIndex of(Map<DestinationKey, DestinationSettings> entries) {
        return new DestinationIndex(entries);
    }

    /** Number of entries, the default one included. */
    public int size() {
        return size;
    }

    /**
     * Resolves operator input: a recipient domain and/or a next-hop address, either may be
     * null or empty.
     *
     * @throws IllegalArgumentException when the domain is not a valid domain name or the
     *     address not an IP address (the message names which)
     */
    public EffectivePolicy resolve(String domain, String nextHop) {
        String d = domain == null || domain.isBlank() ? null : DomainName.normalise(domain);
        byte[] a = null;
        if (nextHop != null && !nextHop.isBlank()) {
            String h = nextHop.trim();
            if (h.startsWith("[") && h.endsWith("]")) {
                h = h.substring(1, h.length() - 1);
            }
            a = DestinationKey.parseAddress(h);
            if (a == null) {
                throw new IllegalArgumentException("ip: '" + nextHop + "' is not an IP address");
            }
        }
        return resolveNormalised(d, a);
    }

    /**
     * Resolves an already normalised domain ({@link DomainName#normalise}) and/or address
     * bytes; the hot path.
     */
    public EffectivePolicy resolveNormalised(String domain, byte[] address) {
        Match m = null;
        if (domain != null) {
            m = exact.get(domain);
            for (int i = domain.indexOf('.'); m == null && i >= 0; i = domain.indexOf('.', i + 1)) {
                m = suffixes.get(domain.substring(i));
            }
        }
        if (m == null && address != null) {
            m = address.length == 4 ? lookupV4(v4(address)) : lookupV6(address);
        }
        return effective(m);
    }

    private Match lookupV4(int addr) {
        for (int p : v4Prefixes) {
            int masked = p == 0 ? 0 : addr & (-1 << (32 - p));
            Match m = v4ByPrefix.get(p).get(masked);
            if (m != null) {
                return m;
            }
        }
        return null;
    }

    private Match lookupV6(byte[] address) {
        V6 full = v6(address);
        for (int p : v6Prefixes) {
            long hi = p >= 64 ? full.hi : (p == 0 ? 0 : full.hi & (-1L << (64 - p)));
            long lo = p <= 64 ? 0 : (p == 128 ? full.lo : full.lo & (-1L << (128 - p)));
            Match m = v6ByPrefix.get(p).get(new V6(hi, lo));
            if (m != null) {
                return m;
            }
        }
        return null;
    }

    private EffectivePolicy effective(Match m) {
        Map<DestinationField, String> sources = new EnumMap<>(DestinationField.class);
        if (m == null) {
            for (DestinationField f : DestinationField.values()) {
                sources.put(f, DestinationKey.DEFAULT_TEXT);
            }
            return new EffectivePolicy(DestinationKey.DEFAULT_TEXT, defaults, sources);
        }
        DestinationSettings s = m.settings();
        for (DestinationField f : DestinationField.values()) {
            sources.put(f, f.get(s) != null ? m.key() : DestinationKey.DEFAULT_TEXT);
        }
        DestinationSettings values = new DestinationSettings(
                s.tls() != null ? s.tls() : defaults.tls(),
                s.maxConcurrentConnections() != null ? s.maxConcurrentConnections() : defaults.maxConcurrentConnections(),
                s.maxMessagesPerConnection() != null ? s.maxMessagesPerConnection() : defaults.maxMessagesPerConnection(),
                s.recipientLimit() != null ? s.recipientLimit() : defaults.recipientLimit(),
                s.limitsApplyPer() != null ? s.limitsApplyPer() : defaults.limitsApplyPer(),
                s.limitsScope() != null ? s.limitsScope() : defaults.limitsScope(),
                s.ipPreference() != null ? s.ipPreference() : defaults.ipPreference(),
                s.bounceVerification() != null ? s.bounceVerification() : defaults.bounceVerification(),
                s.bounceProfile() != null ? s.bounceProfile() : defaults.bounceProfile(),
                s.ignoreMtaSts() != null ? s.ignoreMtaSts() : defaults.ignoreMtaSts(),
                s.ignoreDane() != null ? s.ignoreDane() : defaults.ignoreDane());
        return new EffectivePolicy(m.key(), values, sources);
    }

    private static <K> Map<K, Match> slot(List<Map<K, Match>> byPrefix, int prefix) {
        Map<K, Match> m = byPrefix.get(prefix);
        if (m == null) {
            m = new HashMap<>();
            byPrefix.set(prefix, m);
        }
        return m;
    }

    private static int[] present(List<? extends Map<?, Match>> byPrefix) {
        List<Integer> out = new ArrayList<>();
        for (int p = byPrefix.size() - 1; p >= 0; p--) {
            if (byPrefix.get(p) != null) {
                out.add(p);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int v4(byte[] a) {
        return ((a[0] & 0xff) << 24) | ((a[1] & 0xff) << 16) | ((a[2] & 0xff) << 8) | (a[3] & 0xff);
    }

    private static V6 v6(byte[] a) {
        long hi = 0;
        long lo = 0;
        for (int i = 0; i < 8; i++) {
            hi = (hi << 8) | (a[i] & 0xff);
            lo = (lo << 8) | (a[i + 8] & 0xff);
        }
        return new V6(hi, lo);
    }
}
