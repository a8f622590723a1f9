package io.tlsgate.core.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.GoldenCsv;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Reads {@code tls/identity-decisions.csv}: every row is a test of the Verify / Hosted Verify rules. */
class CertificateIdentityGoldenTest {

    static Stream<Arguments> decisions() {
        List<String[]> rows = GoldenCsv.rows("tls/identity-decisions.csv");
        assertTrue(rows.size() >= 40, "the golden table must have at least 40 rows, has " + rows.size());
        return rows.stream().map(r -> Arguments.of(r[0], r[1], r[2], r));
    }

    private static List<String> list(String cell) {
        return cell.isEmpty() ? List.of() : Arrays.asList(cell.split("\\|"));
    }

    @ParameterizedTest(name = "{0}: cn ''{1}'' sans ''{2}''")
    @MethodSource("decisions")
    void matchesAsTheGoldenTableSays(String rule, String cn, String sans, String[] r) {
        CertificateIdentity.Match m = rule.equals("verify")
                ? CertificateIdentity.verify(cn, list(sans), r[3], r[6])
                : CertificateIdentity.hostedVerify(cn, list(sans), r[6], list(r[4]), r[5].isEmpty() ? null : r[5]);
        if (r[7].equals("-")) {
            assertEquals(false, m.matched(), "no reference identity may match: " + m);
            assertTrue(m.detail().startsWith("certificate names "), m.detail());
        } else {
            assertEquals(true, m.matched(), m.detail());
            assertEquals(r[7], m.referenceIdentity());
        }
    }
}
