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

/**
 * Reads {@code tls/outbound-decisions.csv}: all six modes against ten peer behaviours (60
 * rows), each a test of what the connection does, what is logged, reported and alerted.
 */
class OutboundTlsDecisionGoldenTest {

    static Stream<Arguments> decisions() {
        List<String[]> rows = GoldenCsv.rows("tls/outbound-decisions.csv");
        assertEquals(60, rows.size(), "six modes times ten peer behaviours");
        for (OutboundTlsMode m : OutboundTlsMode.values()) {
            assertEquals(10, rows.stream().filter(r -> r[0].equals(m.name())).count(), m + " against every peer");
        }
        return rows.stream().map(r -> Arguments.of(r[0], r[1], r));
    }

    @ParameterizedTest(name = "{0} vs {1}")
    @MethodSource("decisions")
    void decidesAsTheGoldenTableSays(String mode, String peer, String[] r) {
        OutboundTlsDecision.PeerFacts facts = new OutboundTlsDecision.PeerFacts(r[2].equals("ok"), r[3].equals("yes"),
                Integer.parseInt(r[4]), r[5].equals("ok") ? null : r[5], r[6].equals("ok") ? null : TlsResultType.ofWire(r[6]),
                r[6].equals("ok") ? null : "{detail}");
        OutboundTlsDecision.Outcome o = OutboundTlsDecision.decide(OutboundTlsMode.valueOf(mode), facts);
        assertEquals(OutboundTlsDecision.Action.valueOf(r[7]), o.action(), "action");
        assertEquals(r[8].equals("yes"), o.encrypted(), "encrypted");
        assertEquals(r[9].equals("yes"), o.helo(), "HELO fallback");
        assertEquals(r[10], o.result().wire(), "event result");
        assertEquals(r[11].isEmpty() ? null : r[11], o.resultType() == null ? null : o.resultType().wire(), "result type");
        assertEquals(r[12], o.verification().wire(), "verification");
        assertEquals(r[13].equals("yes"), o.alert(), "alert");
        List<String> log = r[14].isEmpty() ? List.of() : Arrays.asList(r[14].split("\\|"));
        assertEquals(log, o.logLines(), "mail log lines");
        assertTrue(o.action() != OutboundTlsDecision.Action.CONTINUE);
    }
}
