package io.tlsgate.bench;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.core.destination.RecipientLimit;
import io.tlsgate.core.tls.OutboundTlsMode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * The synthetic destination tables the benchmarks use, the same for every tool: entry i is
 * a domain ({@code d<i>.bench.example}), a suffix ({@code .s<i>.bench.example}), an IPv4
 * address, an IPv4 /24 or an IPv6 /48, in the proportions 4:3:1:1:1, with fields varied by a
 * seeded random source.
 */
public final class Tables {

    private Tables() {}

    static final OutboundTlsMode[] MODES = OutboundTlsMode.values();

    public static String key(int i) {
        int j = i / 10;
        return switch (i % 10) {
            case 0, 1, 2, 3 -> "d" + i + ".bench.example";
            case 4, 5, 6 -> ".s" + i + ".bench.example";
            case 7 -> "10." + (j >> 16 & 255) + "." + (j >> 8 & 255) + "." + (j & 255);
            case 8 -> (j >> 16 & 127) + 1 + "." + (j >> 8 & 255) + "." + (j & 255) + ".0/24";
            default -> "2001:" + Integer.toHexString(0x1000 + (j >> 16)) + ":" + Integer.toHexString(j & 0xffff) + "::/48";
        };
    }

    public static Map<DestinationKey, DestinationSettings> table(int n, long seed) {
        Random r = new Random(seed);
        Map<DestinationKey, DestinationSettings> m = new LinkedHashMap<>(n * 2);
        m.put(DestinationKey.DEFAULT, DestinationSettings.FACTORY_DEFAULT);
        for (int i = 0; i < n; i++) {
            m.put(DestinationKey.parse(key(i)), new DestinationSettings(MODES[r.nextInt(MODES.length)],
                    r.nextBoolean() ? 1 + r.nextInt(1000) : null, null,
                    r.nextInt(4) == 0 ? RecipientLimit.of(r.nextInt(1000), 1 + r.nextInt(60)) : null,
                    null, null, null, null, null));
        }
        return m;
    }
}
