package io.tlsgate.core.sts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** RFC 8461's policy file and TXT record, with the examples of its §3 and the ways they go wrong. */
class MtaStsPolicyTest {

    @Test
    void theRfcExamplePolicyParses() throws Exception {
        MtaStsPolicy p = MtaStsPolicy.parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
                + "mx: backupmx.example.com\r\nmax_age: 604800\r\n");
        assertEquals(MtaStsPolicy.Mode.ENFORCE, p.mode());
        assertEquals(List.of("mail.example.com", "*.example.net", "backupmx.example.com"), p.mx());
        assertEquals(604800, p.maxAgeSeconds());
    }

    @Test
    void lfLinesBlanksUnknownKeysAndCaseOfHostsAreAccepted() throws Exception {
        MtaStsPolicy p = MtaStsPolicy.parse("version: STSv1\nmode:testing\n\nextension: whatever\nmx:  MX1.Example.COM. \nmax_age:86400");
        assertEquals(MtaStsPolicy.Mode.TESTING, p.mode());
        assertEquals(List.of("mx1.example.com"), p.mx());
        MtaStsPolicy none = MtaStsPolicy.parse("version: STSv1\nmode: none\nmax_age: 0\n");
        assertEquals(List.of(), none.mx());
    }

    @Test
    void mxPatternsMatchAsTheRfcSays() throws Exception {
        MtaStsPolicy p = MtaStsPolicy.parse("version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 1\n");
        assertTrue(p.allows("mail.example.com"));
        assertTrue(p.allows("MAIL.example.com."));
        assertTrue(p.allows("mx1.example.net"));
        assertFalse(p.allows("a.b.example.net"), "the star is one label");
        assertFalse(p.allows("example.net"));
        assertFalse(p.allows("mail.example.com.evil.test"));
        assertFalse(p.allows("xmail.example.com"));
    }

    @Test
    void badPoliciesAreRefusedNamingTheField() {
        Map<String, String> bad = Map.of(
                "mode: enforce\nmx: a.test\nmax_age: 1\n", "version: missing",
                "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n", "version: must be STSv1",
                "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n", "mode: must be enforce",
                "version: STSv1\nmode: enforce\nmax_age: 1\n", "mx: at least one",
                "version: STSv1\nmode: enforce\nmx: a.test\n", "max_age: missing",
                "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n", "max_age: at most",
                "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -5\n", "max_age: not a number",
                "version: STSv1\nmode: enforce\nmx: *.*.test\nmax_age: 1\n", "mx: not a host name",
                "version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 1\n", "mx: not a host name",
                "<html>not found</html>", "not a 'key: value' line");
        bad.forEach((body, why) -> {
            MtaStsPolicy.Invalid e = assertThrows(MtaStsPolicy.Invalid.class, () -> MtaStsPolicy.parse(body), body);
            assertTrue(e.getMessage().startsWith(why), body + " -> " + e.getMessage());
        });
    }

    @Test
    void aPolicyMadeFromItsPartsIsServedAsTheFileThatParsesBackToIt() throws Exception {
        MtaStsPolicy p = MtaStsPolicy.of(MtaStsPolicy.Mode.ENFORCE, List.of("MX1.Example.com.", "*.example.net", "mx1.example.com"),
                604800);
        assertEquals(List.of("mx1.example.com", "*.example.net"), p.mx(), "normalised, duplicates dropped");
        assertEquals("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n", p.text());
        assertEquals(p, MtaStsPolicy.parse(p.text()));
        assertThrows(MtaStsPolicy.Invalid.class, () -> MtaStsPolicy.of(MtaStsPolicy.Mode.TESTING, List.of(), 60));
        assertThrows(MtaStsPolicy.Invalid.class, () -> MtaStsPolicy.of(MtaStsPolicy.Mode.ENFORCE, List.of("a.test"), -1));
        assertThrows(MtaStsPolicy.Invalid.class, () -> MtaStsPolicy.of(MtaStsPolicy.Mode.ENFORCE, List.of("bad host"), 60));
    }

    @Test
    void theTxtRecordGivesThePolicyId() throws Exception {
        assertEquals("20160831085700Z", MtaStsPolicy.policyId(List.of("v=STSv1; id=20160831085700Z;")));
        assertEquals("abc", MtaStsPolicy.policyId(List.of("v=spf1 -all", "v=STSv1;id=abc", "something else")));
        assertNull(MtaStsPolicy.policyId(List.of("v=spf1 -all")), "no record: no policy");
        assertNull(MtaStsPolicy.policyId(List.of("v=STSv10; id=1")), "another version is not counted");
        Map<List<String>, String> bad = Map.of(
                List.of("v=STSv1; id=1;", "v=STSv1; id=2;"), "_mta-sts: 2 v=STSv1 records",
                List.of("v=STSv1;"), "_mta-sts: id missing",
                List.of("v=STSv1; id=has-dash"), "_mta-sts: id must be",
                List.of("v=STSv1; id=" + "x".repeat(33)), "_mta-sts: id must be");
        bad.forEach((txt, why) -> {
            MtaStsPolicy.Invalid e = assertThrows(MtaStsPolicy.Invalid.class, () -> MtaStsPolicy.policyId(txt), txt.toString());
            assertTrue(e.getMessage().startsWith(why), txt + " -> " + e.getMessage());
        });
    }
}
