package io.tlsgate.bench;

import io.tlsgate.core.destination.DestinationIndex;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.EffectivePolicy;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The in-process resolve of policy-service: one {@link DestinationIndex} of {@code entries}
 * entries, queried for exact domains, subdomains of suffix entries (found at the second
 * parent), misses that fall through to default, IPv4 addresses inside /24 entries, and raw
 * operator input that still needs IDNA normalisation. SampleTime gives the median.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xms3g", "-Xmx3g"})
public class ResolveBenchmark {

    @Param("1000000")
    int entries;

    DestinationIndex index;
    String[] exact;
    String[] subdomains;
    String[] misses;
    String[] raw;
    byte[][] v4;
    int i;

    @Setup
    public void setup() {
        index = DestinationIndex.of(Tables.table(entries, 1));
        int q = 4096;
        exact = new String[q];
        subdomains = new String[q];
        misses = new String[q];
        raw = new String[q];
        v4 = new byte[q][];
        java.util.Random r = new java.util.Random(2);
        for (int k = 0; k < q; k++) {
            int d = r.nextInt(entries / 10) * 10;
            exact[k] = "d" + d + ".bench.example";
            subdomains[k] = "mx1.s" + (d + 4) + ".bench.example";
            misses[k] = "nobody" + k + ".elsewhere.example";
            raw[k] = "D" + d + ".Bench.Example.";
            int j = (d + 8) / 10;
            v4[k] = DestinationKey.parseAddress(((j >> 16 & 127) + 1) + "." + (j >> 8 & 255) + "." + (j & 255) + "." + (1 + k % 250));
        }
    }

    private int next() {
        return i = (i + 1) & 4095;
    }

    @Benchmark
    public EffectivePolicy exactDomain() {
        return index.resolveNormalised(exact[next()], null);
    }

    @Benchmark
    public EffectivePolicy suffixDomain() {
        return index.resolveNormalised(subdomains[next()], null);
    }

    @Benchmark
    public EffectivePolicy missToDefault() {
        return index.resolveNormalised(misses[next()], null);
    }

    @Benchmark
    public EffectivePolicy ipv4InCidr() {
        return index.resolveNormalised(null, v4[next()]);
    }

    @Benchmark
    public EffectivePolicy rawInputWithNormalisation() {
        return index.resolve(raw[next()], null);
    }
}
