package io.tlsgate.core.inbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.GoldenCsv;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.tls.InboundTls;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Reads {@code inbound/hat-decisions.csv} (at least 40 hand-decided rows) against the
 * fixture {@code inbound/hat-fixture.csv}; every row is a test and any mismatch fails it.
 */
class HostAccessGoldenTest {

    static final InboundIndex INDEX = fixture();

    static Stream<Arguments> decisions() {
        List<String[]> rows = GoldenCsv.rows("inbound/hat-decisions.csv");
        assertTrue(rows.size() >= 40, "the golden table must have at least 40 rows, has " + rows.size());
        return rows.stream().map(r -> Arguments.of(r[0], r[1], r[2], r[3], r));
    }

    @ParameterizedTest(name = "{0}: {1} rdns ''{2}'' verified {3}")
    @MethodSource("decisions")
    void resolvesAsTheGoldenTableSays(String listener, String ip, String rdns, String verified, String[] row) {
        byte[] address = DestinationKey.parseAddress(ip);
        assertNotNull(address, "fixture ip " + ip);
        InboundIndex.HatDecision d = INDEX.resolve(listener, address, rdns.isEmpty() ? null : rdns, verified.equals("yes"))
                .orElseThrow();
        assertEquals(row[4], d.senderGroup(), "sender group");
        assertEquals(row[5], d.matchedBy(), "matched entry");
        assertEquals(Integer.parseInt(row[6]), d.position(), "position in the HAT");
        assertEquals(row[7], d.policy().name(), "mail flow policy");
    }

    static InboundIndex fixture() {
        List<MailFlowPolicy> policies = new ArrayList<>();
        List<SenderGroup> groups = new ArrayList<>();
        List<Listener> listeners = new ArrayList<>();
        Map<String, List<String>> hats = new LinkedHashMap<>();
        for (String[] r : GoldenCsv.rows("inbound/hat-fixture.csv")) {
            switch (r[0]) {
                case "policy" -> policies.add(new MailFlowPolicy(r[1], Behaviour.valueOf(r[2]), InboundTls.valueOf(r[3]),
                        List.of(), MailFlowPolicy.DEFAULT_MAX_RECIPIENTS, MailFlowPolicy.DEFAULT_MAX_MESSAGES));
                case "group" -> groups.add(new SenderGroup(r[1],
                        Arrays.stream(r[3].split("\\|")).map(SenderPattern::parse).toList(), r[2]));
                case "listener" -> {
                    listeners.add(new Listener(r[1], "0.0.0.0", 2525, "mx.example.com", Listener.DEFAULT_MAX_CONNECTIONS,
                            Listener.DEFAULT_MAX_CONNECTIONS_PER_CLIENT, Listener.DEFAULT_MAX_MESSAGE_SIZE));
                    hats.put(r[1], r[2].isEmpty() ? List.of() : List.of(r[2].split("\\|")));
                }
                default -> throw new IllegalArgumentException("fixture kind " + r[0]);
            }
        }
        return InboundIndex.of(listeners, groups, policies, hats, List.of(), List.of());
    }
}
