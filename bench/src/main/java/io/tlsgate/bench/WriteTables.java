package io.tlsgate.bench;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

/**
 * Writes the benchmark inputs: {@code postfix-table} (Postfix {@code smtp_tls_policy_maps}
 * source: {@code key level}, domain and suffix keys only, Postfix's own spelling),
 * {@code queries} (exact-domain lookups, one per line, every one a hit) and
 * {@code destinations.ini} (the same table for tlsgate's import).
 * Usage: WriteTables DIR ENTRIES QUERIES
 */
public final class WriteTables {

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        int n = Integer.parseInt(args[1]);
        int q = Integer.parseInt(args[2]);
        Files.createDirectories(dir);
        Map<DestinationKey, DestinationSettings> table = Tables.table(n, 1);
        try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("postfix-table"))) {
            for (Map.Entry<DestinationKey, DestinationSettings> e : table.entrySet()) {
                DestinationKey k = e.getKey();
                if (k.kind() == DestinationKey.Kind.DOMAIN || k.kind() == DestinationKey.Kind.SUFFIX) {
                    w.write(k.text() + " " + postfixLevel(e.getValue()) + "\n");
                }
            }
        }
        Random r = new Random(3);
        try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("queries"))) {
            for (int i = 0; i < q; i++) {
                w.write("d" + r.nextInt(n / 10) * 10 + ".bench.example\n");
            }
        }
        Files.writeString(dir.resolve("destinations.ini"),
                io.tlsgate.policy.destination.DestinationIni.format(table));
    }

    private static String postfixLevel(DestinationSettings s) {
        return switch (s.tls()) {
            case NONE -> "none";
            case PREFERRED, PREFERRED_VERIFY -> "may";
            case REQUIRED -> "encrypt";
            case REQUIRED_VERIFY -> "verify";
            case REQUIRED_VERIFY_HOSTED_DOMAINS -> "secure";
        };
    }
}
