package io.tlsgate.policy;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.specification.RequestSpecification;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.policy.destination.DestinationIni;
import io.tlsgate.testkit.TestTokens;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The INI export/import of the whole table, at the sizes the issue names. */
@QuarkusTest
class DestinationImportExportTest {

    private static final String[] TLS = {"NONE", "PREFERRED", "REQUIRED", "PREFERRED_VERIFY", "REQUIRED_VERIFY",
        "REQUIRED_VERIFY_HOSTED_DOMAINS"};

    static RequestSpecification as(String token) {
        return given().header("Authorization", TestTokens.bearer(token));
    }

    @AfterEach
    void clearTable() {
        as(TestTokens.OPERATOR).when().delete("/api/v1/destinations").then().statusCode(200);
    }

    @Test
    void tenThousandEntriesRoundTripExactly() {
        String generated = table(10_000, new Random(42));
        Map<DestinationKey, DestinationSettings> want = DestinationIni.parse(generated).table();
        assertEquals(10_001, want.size());

        long versionBefore = version();
        importFile(generated).statusCode(200).body("entries", equalTo(10_001));
        // One import is one change: the policy version moves once (one NOTIFY), not per row.
        assertEquals(versionBefore + 1, version());
        String first = export();
        assertEquals(want, DestinationIni.parse(first).table(), "the export says what was imported");

        importFile(first).statusCode(200).body("entries", equalTo(10_001));
        assertEquals(first, export(), "export -> import -> export is the identity");

        // The resolver follows the import.
        Map.Entry<DestinationKey, DestinationSettings> someDomain = want.entrySet().stream()
                .filter(e -> e.getKey().kind() == DestinationKey.Kind.DOMAIN).findFirst().orElseThrow();
        as(TestTokens.READER).when().get("/api/v1/destinations/resolve?domain=" + someDomain.getKey().text())
                .then().statusCode(200).body("matched", equalTo(someDomain.getKey().text()));
    }

    private static long version() {
        return as(TestTokens.READER).when().get("/api/v1/destinations/resolve?domain=version.example")
                .then().statusCode(200).extract().jsonPath().getLong("version");
    }

    @Test
    void threeBadLinesAmongAThousandAreAllReportedAndNothingChanges() {
        String before;

        // 1,000 lines: [DEFAULT] and a setting, then 332 three-line entries, then one more header and setting.
        List<String> lines = new ArrayList<>(List.of("[DEFAULT]", "tls = NONE"));
        for (int i = 0; lines.size() < 998; i++) {
            lines.add("[e" + i + ".three.example]");
            lines.add("tls = PREFERRED");
            lines.add("max_host_concurrency = 10");
        }
        lines.add("[last.three.example]");
        lines.add("max_messages_per_connection = 5");
        assertEquals(1000, lines.size());
        importFile(String.join("\n", lines) + "\n").statusCode(200).body("entries", equalTo(334));
        before = export();
        // Lines 101, 500 and 779 (1-based, all max_host_concurrency lines) become bad in three ways.
        lines.set(100, "max_host_concurrency = 0");
        lines.set(499, "max_host_concurrency = ten");
        lines.set(778, "colour = blue");
        String file = String.join("\n", lines) + "\n";

        importFile(file).statusCode(400).contentType("application/problem+json")
                .body("detail", startsWith("3 bad line(s)"))
                .body("errors.field", contains("line 101", "line 500", "line 779"));
        assertEquals(before, export(), "a rejected import changes nothing");
    }

    @Test
    void importErrorsNameTheProblem() {
        String file = "[DEFAULT]\ntls = NONE\n\n[bad..key]\ntls = REQUIRED\n\n[ok.example]\nrecipient_minutes = 5\n"
                + "[ok.example]\n";
        importFile(file).statusCode(400)
                .body("errors.field", contains("line 4", "line 8", "line 9"))
                .body("errors[0].message", startsWith("bad section key"))
                .body("errors[1].message", startsWith("recipient_minutes: needs recipient_limit"))
                .body("errors[2].message", startsWith("section [ok.example] repeats"));
        importFile("[x.example]\ntls = NONE\n").statusCode(400).body("errors[0].message", equalTo("no [DEFAULT] section"));
        importFile("[DEFAULT]\nbounce_profile = nosuchprofile\n").statusCode(400)
                .body("errors[0].field", equalTo("bounceProfile"));
    }

    /** A table of {@code n} entries of every key kind and random field mixes, in INI form. */
    static String table(int n, Random r) {
        StringBuilder b = new StringBuilder("[DEFAULT]\ntls = NONE\nmax_host_concurrency = 500\n"
                + "max_messages_per_connection = 50\nrecipient_limit = none\nlimit_type = host\nlimit_apply = system\n"
                + "ip_sort_pref = PREFER_V6\nbounce_verification = off\nbounce_profile = default\n");
        for (int i = 0; i < n; i++) {
            String key = switch (i % 5) {
                case 0 -> "d" + i + ".bulk.example";
                case 1 -> ".s" + i + ".bulk.example";
                case 2 -> "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255);
                case 3 -> "172." + (16 + (i / 5 >> 8 & 15)) + "." + (i / 5 & 255) + ".0/24";
                default -> "2001:db8:" + Integer.toHexString(i) + "::/48";
            };
            b.append("\n[").append(key).append("]\n");
            if (r.nextBoolean()) {
                b.append("tls = ").append(TLS[r.nextInt(TLS.length)]).append('\n');
            }
            if (r.nextInt(3) == 0) {
                b.append("max_host_concurrency = ").append(1 + r.nextInt(1000)).append('\n');
            }
            if (r.nextInt(3) == 0) {
                b.append("max_messages_per_connection = ").append(1 + r.nextInt(1000)).append('\n');
            }
            switch (r.nextInt(4)) {
                case 0 -> b.append("recipient_limit = none\n");
                case 1 -> b.append("recipient_limit = ").append(r.nextInt(1_000_000_001)).append("\nrecipient_minutes = ")
                        .append(1 + r.nextInt(60)).append('\n');
                default -> { }
            }
            if (r.nextInt(4) == 0) {
                b.append("limit_type = ").append(r.nextBoolean() ? "MXIP" : "host").append('\n');
            }
            if (r.nextInt(4) == 0) {
                b.append("limit_apply = ").append(r.nextBoolean() ? "VG" : "system").append('\n');
            }
            if (r.nextInt(4) == 0) {
                b.append("ip_sort_pref = ").append(new String[] {"PREFER_V6", "REQUIRE_V6", "PREFER_V4", "REQUIRE_V4"}[r.nextInt(4)])
                        .append('\n');
            }
            if (r.nextInt(4) == 0) {
                b.append("bounce_verification = ").append(r.nextBoolean() ? "on" : "off").append('\n');
            }
            if (r.nextInt(8) == 0) {
                b.append("bounce_profile = default\n");
            }
        }
        return b.toString();
    }

    private static io.restassured.response.ValidatableResponse importFile(String text) {
        return as(TestTokens.OPERATOR).contentType("text/plain; charset=UTF-8")
                .body(text.getBytes(StandardCharsets.UTF_8))
                .when().post("/api/v1/destinations/import").then();
    }

    private static String export() {
        return as(TestTokens.READER).when().get("/api/v1/destinations/export").then().statusCode(200).extract().asString();
    }
}
