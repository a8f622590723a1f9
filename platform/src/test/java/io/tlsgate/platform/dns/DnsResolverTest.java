package io.tlsgate.platform.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.TestDnsServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.Type;

/** The DNS layer against real DNS servers on loopback that the test starts (UDP, real sockets). */
class DnsResolverTest {

    private static InetSocketAddress at(TestDnsServer s) {
        String[] hp = s.address().split(":");
        return new InetSocketAddress(hp[0], Integer.parseInt(hp[1]));
    }

    private static DnsResolver resolver(Duration tryTimeout, int attempts, TestDnsServer... servers) {
        List<InetSocketAddress> list = new ArrayList<>();
        for (TestDnsServer s : servers) {
            list.add(at(s));
        }
        return new DnsResolver(new DnsResolver.Settings(list, tryTimeout, attempts, 10_000, Duration.ofDays(1), HostsFile.NONE));
    }

    private static String address(DnsResolver.Answer a) {
        return ((ARecord) a.records().get(0)).getAddress().getHostAddress();
    }

    /**
     * Only the records at the name asked, or at the end of its CNAME chain, are an answer: a
     * (validly signed) record set for another name in the answer section never stands in.
     */
    @Test
    void recordsForAnotherNameAreNoAnswer() throws Exception {
        org.xbill.DNS.Name asked = org.xbill.DNS.Name.fromString("_25._tcp.mx.victim.test.");
        org.xbill.DNS.Name alias = org.xbill.DNS.Name.fromString("tlsa.victim-dns.test.");
        org.xbill.DNS.Name other = org.xbill.DNS.Name.fromString("_25._tcp.x.attacker.test.");
        byte[] d = new byte[32];
        List<org.xbill.DNS.Record> answer = List.of(
                new org.xbill.DNS.TLSARecord(other, org.xbill.DNS.DClass.IN, 60, 3, 1, 1, d),
                new org.xbill.DNS.CNAMERecord(asked, org.xbill.DNS.DClass.IN, 60, alias),
                new org.xbill.DNS.TLSARecord(alias, org.xbill.DNS.DClass.IN, 60, 3, 1, 1, d));
        org.xbill.DNS.Record question = org.xbill.DNS.Record.newRecord(asked, org.xbill.DNS.Type.TLSA, org.xbill.DNS.DClass.IN);
        List<org.xbill.DNS.Record> kept = DnsResolver.forQuestion(question, answer);
        org.junit.jupiter.api.Assertions.assertEquals(List.of(answer.get(1), answer.get(2)), kept);
        org.junit.jupiter.api.Assertions.assertEquals(List.of(), DnsResolver.forQuestion(question, List.of(answer.get(0))));
    }

    @Test
    void aThousandConcurrentLookupsWithDroppedAndSlowAnswersAllResolve() throws Exception {
        try (TestDnsServer dns = new TestDnsServer()) {
            dns.ttl(60);
            for (int i = 0; i < 1000; i++) {
                dns.address("host-" + i + ".load.test", "10.0." + (i / 250) + "." + (i % 250));
            }
            // 5% of the queries get no answer, 10% a late one (still inside the try's time).
            dns.misbehave(0.05, 0.10, Duration.ofMillis(300));
            DnsResolver r = resolver(Duration.ofMillis(800), 6, dns);
            List<CompletableFuture<DnsResolver.Answer>> all = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                all.add(r.query("host-" + i + ".load.test", Type.A));
            }
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            for (int i = 0; i < 1000; i++) {
                DnsResolver.Answer a = all.get(i).get();
                assertTrue(a.ok(), "host-" + i + ": " + a);
                assertEquals("10.0." + (i / 250) + "." + (i % 250), address(a), "host-" + i);
            }
            DnsResolver.Stats s = r.stats();
            assertTrue(dns.dropped() > 0 && s.timeouts() >= dns.dropped(), "dropped queries were asked again: " + s
                    + ", dropped " + dns.dropped());
            assertEquals(0, s.failures(), s.toString());
        }
    }

    @Test
    void aResolverThatDropsMostOfABurstStillAnswersEveryQuestion() throws Exception {
        // As the development VM's resolver does: most of a burst is never answered.
        try (TestDnsServer dns = new TestDnsServer()) {
            for (int i = 0; i < 200; i++) {
                dns.ptr("192.0.2." + (i % 250 + 1), "client-" + i + ".burst.test");
            }
            dns.misbehave(0.6, 0, Duration.ZERO);
            DnsResolver r = resolver(Duration.ofMillis(200), 30, dns);
            List<CompletableFuture<DnsResolver.Answer>> all = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                all.add(r.query(ReverseMap.fromAddress(InetAddress.getByName("192.0.2." + (i % 250 + 1))), Type.PTR));
            }
            for (int i = 0; i < 200; i++) {
                DnsResolver.Answer a = all.get(i).get(60, TimeUnit.SECONDS);
                assertTrue(a.ok() && !a.records().isEmpty(), i + ": " + a);
            }
            assertTrue(r.stats().timeouts() >= dns.dropped() && dns.dropped() > 100, r.stats() + ", dropped " + dns.dropped());
        }
    }

    @Test
    void aResolverThatNeverAnswersFailsOverToTheNext() throws Exception {
        try (TestDnsServer dead = new TestDnsServer(); TestDnsServer alive = new TestDnsServer()) {
            dead.misbehave(1.0, 0, Duration.ZERO);
            alive.address("failover.dns.test", "192.0.2.9");
            DnsResolver r = resolver(Duration.ofMillis(300), 2, dead, alive);
            DnsResolver.Answer a = r.query("failover.dns.test", Type.A).get(10, TimeUnit.SECONDS);
            assertTrue(a.ok(), a.toString());
            assertEquals("192.0.2.9", address(a));
            assertEquals(1, r.stats().timeouts());
            DnsResolver.Answer none = resolver(Duration.ofMillis(200), 2, dead).query("failover.dns.test", Type.A)
                    .get(10, TimeUnit.SECONDS);
            assertTrue(none.failed(), none.toString());
            assertTrue(none.failure().contains("no answer from"), none.failure());
        }
    }

    @Test
    void theCacheHonoursTtlsAndNegativeTtlsAndStaysBounded() throws Exception {
        try (TestDnsServer dns = new TestDnsServer()) {
            dns.ttl(2).address("ttl.cache.test", "192.0.2.2");
            DnsResolver r = resolver(Duration.ofSeconds(1), 2, dns);
            assertEquals(DnsResolver.Source.DNS, r.query("ttl.cache.test", Type.A).get().source());
            assertEquals(DnsResolver.Source.CACHE, r.query("TTL.cache.test", Type.A).get().source(), "names are case-blind");
            assertEquals(1, dns.queries());
            Thread.sleep(2_100);
            assertEquals(DnsResolver.Source.DNS, r.query("ttl.cache.test", Type.A).get().source(), "expired after its TTL");
            assertEquals(2, dns.queries());

            // NXDOMAIN without a SOA: not cached (RFC 2308 §5); with one: for the SOA's TTL.
            assertTrue(r.query("missing.cache.test", Type.A).get().nxdomain());
            assertTrue(r.query("missing.cache.test", Type.A).get().nxdomain());
            assertEquals(4, dns.queries());
            dns.negativeTtl(60L);
            assertEquals(DnsResolver.Source.DNS, r.query("gone.cache.test", Type.A).get().source());
            DnsResolver.Answer again = r.query("gone.cache.test", Type.A).get();
            assertEquals(DnsResolver.Source.CACHE, again.source());
            assertEquals(Rcode.NXDOMAIN, again.rcode());
            assertEquals(5, dns.queries());

            DnsResolver small = new DnsResolver(new DnsResolver.Settings(List.of(at(dns)), Duration.ofSeconds(1), 2, 10,
                    Duration.ofDays(1), HostsFile.NONE));
            dns.ttl(60);
            for (int i = 0; i < 30; i++) {
                dns.address("n" + i + ".bounded.test", "192.0.2.3");
                small.query("n" + i + ".bounded.test", Type.A).get();
            }
            assertEquals(10, small.stats().cached(), "at most cacheSize answers kept");
        }
    }

    @Test
    void concurrentQueriesForOneNameShareOneLookup() throws Exception {
        try (TestDnsServer dns = new TestDnsServer()) {
            dns.address("shared.dns.test", "192.0.2.4").misbehave(0, 1.0, Duration.ofMillis(300));
            DnsResolver r = resolver(Duration.ofSeconds(2), 1, dns);
            List<CompletableFuture<DnsResolver.Answer>> all = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                all.add(r.query("shared.dns.test", Type.A));
            }
            for (CompletableFuture<DnsResolver.Answer> f : all) {
                assertEquals("192.0.2.4", address(f.get(10, TimeUnit.SECONDS)));
            }
            assertEquals(1, dns.queries());
        }
    }

    @Test
    void theHostsFileAnswersFirstBothWays(@TempDir Path dir) throws Exception {
        Path hosts = dir.resolve("hosts");
        Files.writeString(hosts, "# comment\n127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n"
                + "192.0.2.7 mail.hosts.test mail # trailing comment\nnot-an-address bogus.test\n");
        try (TestDnsServer dns = new TestDnsServer()) {
            DnsResolver r = new DnsResolver(new DnsResolver.Settings(List.of(at(dns)), Duration.ofSeconds(1), 2, 100,
                    Duration.ofDays(1), HostsFile.of(hosts)));
            DnsResolver.Answer a = r.query("MAIL.hosts.test", Type.A).get();
            assertEquals(DnsResolver.Source.HOSTS, a.source());
            assertEquals("192.0.2.7", address(a));
            assertEquals("192.0.2.7", address(r.query("mail", Type.A).get()));
            DnsResolver.Answer ptr = r.query(ReverseMap.fromAddress(InetAddress.getByName("192.0.2.7")), Type.PTR).get();
            assertEquals("mail.hosts.test.", ((PTRRecord) ptr.records().get(0)).getTarget().toString());
            assertTrue(r.query("localhost", Type.AAAA).get().ok());
            assertEquals(0, dns.queries(), "nothing asked of DNS");
            assertTrue(r.query("bogus.test", Type.A).get().nxdomain(), "a line without an address is ignored");

            ReverseDns reverse = new ReverseDns(r, Duration.ofSeconds(2));
            assertEquals(new ReverseDns.Result("localhost", true), reverse.lookup(InetAddress.getByName("127.0.0.1")).get());
            assertEquals(new ReverseDns.Result("mail.hosts.test", true),
                    reverse.lookup(InetAddress.getByName("192.0.2.7")).get());
        }
    }

    @Test
    void serversAreParsed() {
        assertEquals(List.of(new InetSocketAddress("127.0.0.1", 5353), new InetSocketAddress("::1", 53),
                new InetSocketAddress("::1", 5300), new InetSocketAddress("10.0.0.1", 53)),
                DnsResolver.parseServers("127.0.0.1:5353, [::1], [::1]:5300,10.0.0.1"));
    }
}
