package io.tlsgate.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * core's golden table of the six outbound TLS modes against ten peer behaviours
 * ({@code core/src/test/resources/tls/outbound-decisions.csv}), for the tests that run it over
 * real sockets and through the cluster: one table, read in one place.
 */
public final class OutboundDecisionTable {

    /** The table, relative to a module directory (where Maven runs a module's tests). */
    public static final Path FILE = Path.of("..", "core", "src", "test", "resources", "tls", "outbound-decisions.csv");

    /**
     * One row: the mode, the peer, what the peer does in the handshake ("ok" or its failure
     * text), and what must come out.
     */
    public record Row(String mode, String peer, String handshake, String action, boolean encrypted, boolean helo,
            String result, String resultType, String verification, boolean alert, List<String> logLines) {

        /**
         * The row's TLS mail-log lines for connection {@code dcid} as regular expressions:
         * protocol, cipher, reference identity, detail, IP and the handshake failure text match
         * anything, the rest exactly.
         */
        public List<String> logPatterns(long dcid) {
            List<String> out = new ArrayList<>();
            for (String line : logLines) {
                String p = "DCID " + dcid + " " + Pattern.quote(line)
                        .replace("{protocol}", "\\E\\S+\\Q").replace("{cipher}", "\\E\\S+\\Q")
                        .replace("{reference}", "\\E\\S+\\Q").replace("{detail}", "\\E.+\\Q").replace("{ip}", "\\E\\S+\\Q");
                if (!handshake.equals("ok")) {
                    p = p.replace(handshake, "\\E.+\\Q");
                }
                out.add(p);
            }
            return out;
        }
    }

    private OutboundDecisionTable() {}

    public static List<Row> rows() throws IOException {
        List<Row> rows = new ArrayList<>();
        boolean header = true;
        for (String line : Files.readAllLines(FILE, StandardCharsets.UTF_8)) {
            if (line.startsWith("#") || line.isBlank()) {
                continue;
            }
            if (header) {
                header = false;
                continue;
            }
            String[] r = line.split(",", -1);
            rows.add(new Row(r[0], r[1], r[5], r[7], r[8].equals("yes"), r[9].equals("yes"), r[10], r[11], r[12],
                    r[13].equals("yes"), r[14].isEmpty() ? List.of() : Arrays.asList(r[14].split("\\|"))));
        }
        return rows;
    }
}
