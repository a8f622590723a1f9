package io.tlsgate.core.inbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.GoldenCsv;
import io.tlsgate.core.dns.DomainName;
import io.tlsgate.core.tls.InboundTls;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Reads {@code inbound/rat-route-decisions.csv} (at least 40 hand-decided rows) against
 * {@code inbound/rat-route-fixture.csv}; every row is a test and any mismatch fails it.
 */
class RecipientAndRouteGoldenTest {

    private static final Map<String, InboundIndex> TABLES = fixture();

    static Stream<Arguments> decisions() {
        List<String[]> rows = GoldenCsv.rows("inbound/rat-route-decisions.csv");
        assertTrue(rows.size() >= 40, "the golden table must have at least 40 rows, has " + rows.size());
        return rows.stream().map(r -> Arguments.of(r[0], r[1], r[2], r[3]));
    }

    @ParameterizedTest(name = "{0}: {1} -> {2} {3}")
    @MethodSource("decisions")
    void decidesAsTheGoldenTableSays(String table, String domain, String matchedKey, String result) {
        InboundIndex ix = TABLES.get(table);
        String d = DomainName.normalise(domain);
        if (table.equals("rat")) {
            InboundIndex.RecipientDecision r = ix.acceptsRecipient(d);
            assertEquals(result.equals("yes"), r.accepted(), "accepted");
            assertEquals(matchedKey.isEmpty() ? null : matchedKey, r.matchedKey(), "matched RAT entry");
        } else {
            InboundIndex.RouteDecision r = ix.route(d);
            assertEquals(matchedKey.isEmpty() ? null : matchedKey, r.matchedKey(), "matched route");
            List<String> hops = new ArrayList<>(r.hops().stream().map(SmtpRoute.Hop::toString).toList());
            if (r.matchedKey() == null) {
                assertTrue(r.hops().isEmpty() && r.useDns(), "no route means MX lookup");
                hops.add("MX");
            } else if (r.useDns()) {
                hops.add(SmtpRoute.USEDNS);
            }
            assertEquals(result, String.join("|", hops), "hops");
        }
    }

    private static Map<String, InboundIndex> fixture() {
        Map<String, List<String>> rat = new HashMap<>();
        Map<String, List<SmtpRoute>> routes = new HashMap<>();
        for (String[] r : GoldenCsv.rows("inbound/rat-route-fixture.csv")) {
            if (r[0].equals("rat")) {
                rat.computeIfAbsent(r[0], k -> new ArrayList<>()).add(r[1]);
            } else {
                DomainTable.Key key = DomainTable.parseKey(r[1], true);
                routes.computeIfAbsent(r[0], k -> new ArrayList<>()).add(SmtpRoute.of(key.text(), List.of(r[2].split("\\|"))));
            }
        }
        MailFlowPolicy p = new MailFlowPolicy("ACCEPTED", Behaviour.ACCEPT, InboundTls.PREFERRED, List.of(), 1, 1);
        List<SenderGroup> groups = List.of(new SenderGroup(SenderGroup.CATCH_ALL, List.of(SenderPattern.ALL), "ACCEPTED"));
        Map<String, InboundIndex> out = new HashMap<>();
        for (String t : List.of("rat", "routes", "routes-noall")) {
            out.put(t, InboundIndex.of(List.of(), groups, List.of(p), Map.of(), rat.getOrDefault(t, List.of()),
                    routes.getOrDefault(t, List.of())));
        }
        return out;
    }
}
