package io.tlsgate.bench;

import io.tlsgate.core.destination.DestinationIndex;
import io.tlsgate.core.destination.EffectivePolicy;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;

/**
 * tlsgate's side of the Postfix comparison, shaped like {@code postmap -q - TABLE}: builds the
 * index of ENTRIES entries, then reads one domain per line from stdin and prints
 * {@code domain<TAB>tls-mode} for each. Timings on stderr: index build, and lookups alone.
 * Usage: BatchResolve ENTRIES < queries
 */
public final class BatchResolve {

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        long t0 = System.nanoTime();
        DestinationIndex index = DestinationIndex.of(Tables.table(n, 1));
        long t1 = System.nanoTime();
        long lookups = 0;
        long lookupNanos = 0;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII), 1 << 16);
                BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.US_ASCII), 1 << 16)) {
            String line;
            while ((line = in.readLine()) != null) {
                long s = System.nanoTime();
                EffectivePolicy p = index.resolve(line, null);
                lookupNanos += System.nanoTime() - s;
                lookups++;
                out.write(line);
                out.write('\t');
                out.write(p.values().tls().name());
                out.write('\n');
            }
        }
        System.err.printf("index of %d entries built in %d ms; %d lookups took %.1f ms (%.0f ns each, normalisation included)%n",
                index.size(), (t1 - t0) / 1_000_000, lookups, lookupNanos / 1e6, lookups == 0 ? 0.0 : (double) lookupNanos / lookups);
    }
}
