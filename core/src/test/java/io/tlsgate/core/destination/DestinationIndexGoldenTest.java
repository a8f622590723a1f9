package io.tlsgate.core.destination;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.GoldenCsv;
import io.tlsgate.core.tls.OutboundTlsMode;
import java.io.IOException;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Reads {@code destination/decisions.csv} (at least 60 hand-decided rows) against the
 * fixture {@code destination/entries.csv}; every row is a test and any mismatch fails it.
 */
class DestinationIndexGoldenTest {

    private static final List<String> FIELDS = Arrays.stream(DestinationField.values())
            .map(DestinationField::jsonName).toList();
    private static final DestinationIndex INDEX = DestinationIndex.of(fixture());

    static Stream<Arguments> decisions() throws IOException {
        List<String[]> rows = csv("destination/decisions.csv");
        assertTrue(rows.size() >= 60, "the golden table must have at least 60 rows, has " + rows.size());
        return rows.stream().map(r -> Arguments.of(r[0], r[1], r[2], r));
    }

    @ParameterizedTest(name = "domain ''{0}'' ip ''{1}'' -> {2}")
    @MethodSource("decisions")
    void resolvesAsTheGoldenTableSays(String domain, String ip, String matched, String[] row) {
        EffectivePolicy p = INDEX.resolve(domain, ip);
        assertEquals(matched, p.matchedKey(), "matched entry");
        DestinationSettings expected = settings(Arrays.copyOfRange(row, 3, 3 + FIELDS.size()));
        assertEquals(expected, p.values(), "effective values");
        Set<String> fromEntry = new HashSet<>();
        if (row.length > 3 + FIELDS.size() && !row[3 + FIELDS.size()].isEmpty()) {
            fromEntry.addAll(Arrays.asList(row[3 + FIELDS.size()].split("\\|")));
        }
        for (DestinationField f : DestinationField.values()) {
            String want = fromEntry.contains(f.jsonName()) ? row[2] : DestinationKey.DEFAULT_TEXT;
            assertEquals(want, p.sourceOf(f), "source of " + f.jsonName());
        }
    }

    private static Map<DestinationKey, DestinationSettings> fixture() {
        try {
            Map<DestinationKey, DestinationSettings> m = new LinkedHashMap<>();
            for (String[] r : csv("destination/entries.csv")) {
                m.put(DestinationKey.parse(r[0]), settings(Arrays.copyOfRange(r, 1, 1 + FIELDS.size())));
            }
            return m;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The fixture's spelling: '-' = use default, 'none' / 'N/M' recipient limits, 'on' / 'off'. */
    static DestinationSettings settings(String[] v) {
        return new DestinationSettings(
                v[0].equals("-") ? null : OutboundTlsMode.valueOf(v[0]),
                v[1].equals("-") ? null : Integer.valueOf(v[1]),
                v[2].equals("-") ? null : Integer.valueOf(v[2]),
                v[3].equals("-") ? null : v[3].equals("none") ? RecipientLimit.NONE
                        : RecipientLimit.of(Integer.parseInt(v[3].split("/")[0]), Integer.parseInt(v[3].split("/")[1])),
                v[4].equals("-") ? null : LimitsApplyPer.valueOf(v[4]),
                v[5].equals("-") ? null : LimitsScope.valueOf(v[5]),
                v[6].equals("-") ? null : IpPreference.valueOf(v[6]),
                v[7].equals("-") ? null : v[7].equals("on"),
                v[8].equals("-") ? null : v[8],
                v[9].equals("-") ? null : v[9].equals("on"),
                v[10].equals("-") ? null : v[10].equals("on"));
    }

    private static List<String[]> csv(String resource) throws IOException {
        return GoldenCsv.rows(resource);
    }
}
