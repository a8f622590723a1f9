package io.tlsgate.core.inbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.tls.InboundTls;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Parsing and matching of sender entries, TLS-mandatory sender patterns and SMTP route hops. */
class InboundParsingTest {

    @ParameterizedTest
    @CsvSource({"all,ALL", "10.0.0.0/8,10.0.0.0/8", "[192.0.2.1],192.0.2.1", "2001:DB8::/32,2001:db8::/32",
        "MX.Example.COM.,mx.example.com", ".Example.com,.example.com", "0.0.0.0/0,0.0.0.0/0"})
    void senderEntriesNormalise(String raw, String text) {
        assertEquals(text, SenderPattern.parse(raw).text());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "default", "10.0.0.1/8", "300.1.1.1", "10.0.0.0/33", "exa mple.com", "-bad.example"})
    void badSenderEntriesAreRefused(String raw) {
        assertThrows(IllegalArgumentException.class, () -> SenderPattern.parse(raw));
    }

    @Test
    void onlyAllAndZeroPrefixesMatchEveryone() {
        assertTrue(SenderPattern.parse("ALL").matchesEveryone());
        assertTrue(SenderPattern.parse("0.0.0.0/0").matchesEveryone());
        assertTrue(SenderPattern.parse("::/0").matchesEveryone());
        assertFalse(SenderPattern.parse("0.0.0.0/1").matchesEveryone());
        assertFalse(SenderPattern.parse(".com").matchesEveryone());
    }

    @ParameterizedTest
    @CsvSource({
        "user@example.com,User@Example.COM,true", "user@example.com,user@www.example.com,false",
        "user@example.com,other@example.com,false", "user@,USER@anything.test,true", "user@,other@anything.test,false",
        "@example.com,anyone@example.com,true", "@example.com,anyone@sub.example.com,false",
        "@.example.com,anyone@sub.example.com,true", "@.example.com,anyone@example.com,false",
        "@.example.com,anyone@badexample.com,false", "@[192.0.2.1],x@[192.0.2.1],true", "@[192.0.2.1],x@[192.0.2.2],false",
        "@[IPv6:2001:db8::1],x@[IPv6:2001:DB8:0::1],true", "@bücher.example,x@xn--bcher-kva.example,true",
        "@example.com,,false", "@example.com,no-at-sign,false", "user@,user@,false"})
    void mandatorySendersMatch(String pattern, String sender, boolean matches) {
        assertEquals(matches, SenderAddress.parse(pattern).matches(sender), pattern + " vs " + sender);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "@", "nobody", "@[300.1.1.1]", "@exa mple.com", "a b@example.com", "@.",
        "<user>@example.com"})
    void badMandatorySendersAreRefused(String raw) {
        assertThrows(IllegalArgumentException.class, () -> SenderAddress.parse(raw));
    }

    @Test
    void mandatorySendersNeedAPreferredSetting() {
        List<SenderAddress> list = List.of(SenderAddress.parse("@example.com"));
        assertThrows(IllegalArgumentException.class,
                () -> new MailFlowPolicy("p", Behaviour.ACCEPT, InboundTls.REQUIRED, list, 1, 1));
        MailFlowPolicy p = new MailFlowPolicy("p", Behaviour.ACCEPT, InboundTls.PREFERRED, list, 1, 1);
        assertTrue(p.tlsMandatoryFor("a@example.com"));
        assertFalse(p.tlsMandatoryFor("a@example.org"));
        assertTrue(new MailFlowPolicy("q", Behaviour.ACCEPT, InboundTls.REQUIRED, List.of(), 1, 1).tlsMandatoryFor(""));
    }

    @ParameterizedTest
    @CsvSource({"mail.internal,mail.internal", "Mail.Internal:2525,mail.internal:2525", "192.0.2.1,[192.0.2.1]",
        "[192.0.2.1]:25,[192.0.2.1]", "[2001:DB8::1]:587,[2001:db8::1]:587", "192.0.2.1:65535,[192.0.2.1]:65535"})
    void hopsNormalise(String raw, String text) {
        assertEquals(text, SmtpRoute.parseHop(raw).toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"mail.internal:0", "mail.internal:65536", "mail.internal:x", "2001:db8::1", "[2001:db8::1",
        "[mail.internal]", "300.1.1.1", "[192.0.2.1]x", "bad host"})
    void badHopsAreRefused(String raw) {
        assertThrows(IllegalArgumentException.class, () -> SmtpRoute.parseHop(raw));
    }

    @Test
    void usednsOnlyLastAndReportsTheBadIndex() {
        SmtpRoute r = SmtpRoute.of("example.com", List.of("a.internal", "usedns"));
        assertTrue(r.useDns());
        assertEquals(List.of("a.internal", "USEDNS"), r.hopTexts());
        SmtpRoute.HopException e = assertThrows(SmtpRoute.HopException.class,
                () -> SmtpRoute.of("example.com", List.of("USEDNS", "a.internal")));
        assertEquals(0, e.index());
        e = assertThrows(SmtpRoute.HopException.class, () -> SmtpRoute.of("example.com", List.of("a.internal", "b:0")));
        assertEquals(1, e.index());
        assertThrows(IllegalArgumentException.class, () -> SmtpRoute.of("example.com", List.of()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"192.0.2.1", "[192.0.2.1]", "10.0.0.0/8", "", "exa mple.com"})
    void ratKeysAreDomainsOnly(String raw) {
        assertThrows(IllegalArgumentException.class, () -> DomainTable.parseKey(raw, false));
    }

    @Test
    void allOnlyWhereAllowed() {
        assertThrows(IllegalArgumentException.class, () -> DomainTable.parseKey("ALL", false));
        assertTrue(DomainTable.parseKey("all", true).all());
    }
}
