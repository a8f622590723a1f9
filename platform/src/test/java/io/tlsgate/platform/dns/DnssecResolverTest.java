package io.tlsgate.platform.dns;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.TestDnsServer;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.TLSARecord;
import org.xbill.DNS.Type;

/**
 * DNSSEC validation in the DNS layer against a signed zone that a real DNS server on loopback
 * serves ({@link TestDnsServer#signedZone}): the resolver takes the zone's key as its trust
 * anchor and must find signed answers and signed proofs of non-existence secure, forged or
 * expired signatures bogus, and names outside the zone insecure, as DANE (RFC 7672) needs.
 */
class DnssecResolverTest {

    private static final byte[] DIGEST = HexFormat.of()
            .parseHex("8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1");

    private static TestDnsServer dns;
    private static TestDnsServer.SignedZone zone;
    private static DnsResolver validating;

    @BeforeAll
    static void signedZone() throws Exception {
        dns = new TestDnsServer();
        zone = dns.signedZone("dane.test");
        dns.mx("dane.test", 10, "mx1.dane.test").address("mx1.dane.test", "192.0.2.25")
                .tlsa("_25._tcp.mx1.dane.test", 3, 1, 1, DIGEST)
                .address("forged.dane.test", "192.0.2.66")
                .tlsa("_25._tcp.stale.dane.test", 3, 1, 1, DIGEST)
                .address("plain.test", "192.0.2.80");
        zone.bogus("forged.dane.test", Type.A).expired("_25._tcp.stale.dane.test", Type.TLSA);
        validating = resolver(zone.trustAnchor());
    }

    @AfterAll
    static void close() {
        dns.close();
    }

    /** One try of 1 s, no cache: every query goes to the server and is validated afresh. */
    private static DnsResolver resolver(String trustAnchors) {
        String[] hp = dns.address().split(":");
        return new DnsResolver(new DnsResolver.Settings(List.of(new InetSocketAddress(hp[0], Integer.parseInt(hp[1]))),
                Duration.ofSeconds(1), 1, 0, Duration.ofDays(1), HostsFile.NONE, trustAnchors));
    }

    private static DnsResolver.Answer query(DnsResolver r, String name, int type) throws Exception {
        return r.query(name, type).get(10, TimeUnit.SECONDS);
    }

    /** The answer's records of {@code type} (a validated answer also holds their RRSIGs). */
    private static <T extends Record> List<T> records(DnsResolver.Answer a, Class<T> type) {
        return a.records().stream().filter(type::isInstance).map(type::cast).toList();
    }

    @Test
    void theTrustAnchorIsTheZonesKeySigningKey() {
        assertTrue(zone.trustAnchor().startsWith("dane.test. 3600 IN DNSKEY 257 3 13 "), zone.trustAnchor());
        assertTrue(validating.validates());
    }

    @Test
    void signedRecordsAreSecure() throws Exception {
        DnsResolver.Answer a = query(validating, "mx1.dane.test", Type.A);
        assertTrue(a.ok() && a.secure() && !a.bogus(), a.toString());
        assertEquals("192.0.2.25", records(a, ARecord.class).get(0).getAddress().getHostAddress());

        DnsResolver.Answer mx = query(validating, "dane.test", Type.MX);
        assertTrue(mx.ok() && mx.secure(), mx.toString());
        assertEquals("mx1.dane.test.", records(mx, MXRecord.class).get(0).getTarget().toString());

        DnsResolver.Answer tlsa = query(validating, "_25._tcp.mx1.dane.test", Type.TLSA);
        assertTrue(tlsa.ok() && tlsa.secure(), tlsa.toString());
        List<TLSARecord> found = records(tlsa, TLSARecord.class);
        assertEquals(1, found.size(), tlsa.toString());
        assertEquals(3, found.get(0).getCertificateUsage());
        assertEquals(1, found.get(0).getSelector());
        assertEquals(1, found.get(0).getMatchingType());
        assertArrayEquals(DIGEST, found.get(0).getCertificateAssociationData());

        DnsResolver.Answer keys = query(validating, "dane.test", Type.DNSKEY);
        assertTrue(keys.ok() && keys.secure(), "the DNSKEY RRset signs itself: " + keys);
        DnsResolver.Answer soa = query(validating, "dane.test", Type.SOA);
        assertTrue(soa.ok() && soa.secure() && records(soa, SOARecord.class).size() == 1, soa.toString());
    }

    @Test
    void provenAbsenceIsSecure() throws Exception {
        DnsResolver.Answer none = query(validating, "_25._tcp.nothing.dane.test", Type.TLSA);
        assertTrue(none.nxdomain() && none.secure() && !none.bogus(), none.toString());
        DnsResolver.Answer before = query(validating, "a.dane.test", Type.A);
        assertTrue(before.nxdomain() && before.secure(), "a name before every other one: " + before);
        DnsResolver.Answer after = query(validating, "zzz.dane.test", Type.A);
        assertTrue(after.nxdomain() && after.secure(), "a name after every other one (the chain wraps): " + after);

        DnsResolver.Answer noData = query(validating, "mx1.dane.test", Type.TLSA);
        assertTrue(noData.ok() && noData.records().isEmpty() && noData.secure(), noData.toString());
        DnsResolver.Answer noAaaa = query(validating, "dane.test", Type.AAAA);
        assertTrue(noAaaa.ok() && noAaaa.records().isEmpty() && noAaaa.secure(), "at the apex: " + noAaaa);
        DnsResolver.Answer emptyNonTerminal = query(validating, "_tcp.mx1.dane.test", Type.TLSA);
        assertTrue(emptyNonTerminal.ok() && emptyNonTerminal.records().isEmpty() && emptyNonTerminal.secure(),
                "a name with names below it only: " + emptyNonTerminal);
    }

    @Test
    void forgedAndExpiredSignaturesAreBogus() throws Exception {
        DnsResolver.Answer forged = query(validating, "forged.dane.test", Type.A);
        assertTrue(forged.failed() && forged.bogus(), forged.toString());
        assertFalse(forged.failure().isBlank());
        assertTrue(forged.failure().contains("DNSSEC validation failed"), forged.failure());

        DnsResolver.Answer stale = query(validating, "_25._tcp.stale.dane.test", Type.TLSA);
        assertTrue(stale.failed() && stale.bogus(), stale.toString());
        assertFalse(stale.failure().isBlank());
    }

    @Test
    void unsignedZonesAreInsecure() throws Exception {
        DnsResolver.Answer a = query(validating, "plain.test", Type.A);
        assertTrue(a.ok() && !a.secure() && !a.bogus(), a.toString());
        assertEquals("192.0.2.80", records(a, ARecord.class).get(0).getAddress().getHostAddress());
        DnsResolver.Answer none = query(validating, "nothing.plain.test", Type.A);
        assertTrue(none.nxdomain() && !none.secure() && !none.bogus(), none.toString());
        DnsResolver.Answer noData = query(validating, "plain.test", Type.AAAA);
        assertTrue(noData.ok() && noData.records().isEmpty() && !noData.secure() && !noData.bogus(), noData.toString());
    }

    @Test
    void withoutTrustAnchorsSignedNamesAnswerAsBefore() throws Exception {
        DnsResolver plain = resolver(null);
        assertFalse(plain.validates());
        DnsResolver.Answer a = query(plain, "mx1.dane.test", Type.A);
        assertTrue(a.ok() && !a.secure() && !a.bogus(), a.toString());
        assertEquals(List.of(ARecord.class), a.records().stream().map(Object::getClass).toList(),
                "no DNSSEC records without the DO bit");
        DnsResolver.Answer forged = query(plain, "forged.dane.test", Type.A);
        assertTrue(forged.ok() && !forged.secure(), "nobody checks the signature: " + forged);
        assertTrue(query(plain, "_25._tcp.nothing.dane.test", Type.TLSA).nxdomain());
        assertTrue(query(plain, "_25._tcp.mx1.dane.test", Type.TLSA).ok());
    }
}
