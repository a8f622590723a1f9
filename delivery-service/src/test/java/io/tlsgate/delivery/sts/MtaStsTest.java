package io.tlsgate.delivery.sts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.core.sts.MtaStsPolicy;
import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.platform.dns.DnsResolver;
import io.tlsgate.testkit.TestDnsServer;
import io.tlsgate.testkit.TestHttpsServer;
import io.tlsgate.testkit.TestHttpsServer.Response;
import io.tlsgate.testkit.TestPki;
import jakarta.inject.Inject;
import java.net.ServerSocket;
import java.net.InetAddress;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A domain's MTA-STS policy as delivery-service finds it (RFC 8461 §3 and §5): a DNS server
 * and HTTPS policy hosts on loopback, the cache in the real PostgreSQL. Fetched once and then
 * served from the cache, fetched again for a new id, kept without its TXT record until it
 * expires, kept through a failed fetch; every way a fetch fails named as RFC 8460 does.
 */
@QuarkusTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MtaStsTest {

    private static final String PATH = "/.well-known/mta-sts.txt";
    private static final String ENFORCE = "version: STSv1\nmode: enforce\nmx: mx1.%s\nmx: *.backup.%s\nmax_age: %d\n";

    @Inject
    DataSource dataSource;

    private TestDnsServer dns;
    private DnsResolver resolver;
    private TestPki.Issued root;
    private TestHttpsServer good;
    private TestHttpsServer selfSigned;
    private TestHttpsServer otherName;
    private int port;
    /** Domains of the good host (its certificate names mta-sts.<each>). */
    private final List<String> domains = new ArrayList<>();

    @BeforeAll
    void servers() throws Exception {
        dns = new TestDnsServer();
        resolver = new DnsResolver(DnsResolver.Settings.of(Optional.of(dns.address())));
        root = TestPki.selfSignedCa("MTA-STS Test Root", Duration.ofDays(2));
        for (int i = 0; i < 20; i++) {
            domains.add("d" + i + "-" + UUID.randomUUID().toString().substring(0, 8) + ".sts.test");
        }
        port = freePortOn("127.0.2.1", "127.0.2.2", "127.0.2.3");
        KeyPair kp = TestPki.ecKeys();
        String[] names = domains.stream().map(d -> "mta-sts." + d).toArray(String[]::new);
        X509Certificate cert = TestPki.issue(root, kp.getPublic(), TestPki.Spec.server(names[0], names));
        good = new TestHttpsServer("127.0.2.1", port, TestPki.serverContext(kp, null, cert, root.certificate()));
        TestPki.Issued own = TestPki.selfSignedCa(names[0], Duration.ofDays(2));
        selfSigned = new TestHttpsServer("127.0.2.2", port, TestPki.serverContext(own.keys(), null, own.certificate()));
        KeyPair kp2 = TestPki.ecKeys();
        X509Certificate other = TestPki.issue(root, kp2.getPublic(), TestPki.Spec.server("mta-sts.other.test", "mta-sts.other.test"));
        otherName = new TestHttpsServer("127.0.2.3", port, TestPki.serverContext(kp2, null, other, root.certificate()));
    }

    @AfterAll
    void down() {
        good.close();
        selfSigned.close();
        otherName.close();
        dns.close();
    }

    @Test
    void anEnforcePolicyIsFetchedOnceThenServedFromTheCache() {
        String d = domain(0);
        publish(d, "1", String.format(ENFORCE, d, d, 86400));
        MtaSts sts = sts(Duration.ofHours(1), Duration.ofSeconds(5));
        MtaSts.Lookup first = sts.lookup(d, anchors());
        assertTrue(first.applies());
        assertEquals(MtaStsPolicy.Mode.ENFORCE, first.policy().mode());
        assertEquals(List.of("mx1." + d, "*.backup." + d), first.policy().mx());
        assertEquals("mta-sts enforce id 1", first.source());
        MtaSts.Lookup again = sts.lookup(d, () -> {
            throw new AssertionError("no fetch: the anchors are not even asked for");
        });
        assertEquals(first.policy(), again.policy());
        assertEquals(1, good.hits("mta-sts." + d));
        // Another replica (a new MtaSts on the same database) finds it in the shared cache.
        assertEquals(first.policy(), sts(Duration.ofHours(1), Duration.ofSeconds(5)).lookup(d, anchors()).policy());
        assertEquals(1, good.hits("mta-sts." + d));
    }

    @Test
    void aNewIdIsFetchedAgainAndWithoutItsRecordAPolicyHoldsUntilItExpires() throws Exception {
        String d = domain(1);
        publish(d, "1", String.format(ENFORCE, d, d, 86400));
        MtaSts sts = sts(Duration.ZERO, Duration.ofSeconds(5)); // the TXT record is looked at every time
        assertEquals("1", sts.lookup(d, anchors()).id());
        assertEquals("1", sts.lookup(d, anchors()).id());
        assertEquals(1, good.hits("mta-sts." + d), "same id: not fetched again");

        publish(d, "2", "version: STSv1\nmode: testing\nmx: mx9." + d + "\nmax_age: 3\n");
        MtaSts.Lookup changed = sts.lookup(d, anchors());
        assertEquals("2", changed.id());
        assertEquals(MtaStsPolicy.Mode.TESTING, changed.policy().mode());
        assertEquals(2, good.hits("mta-sts." + d));

        dns.remove("_mta-sts." + d, org.xbill.DNS.Type.TXT);
        good.forget("mta-sts." + d, PATH);
        assertEquals("2", sts.lookup(d, anchors()).id(), "no record: the cached policy holds (RFC 8461 §5.1)");
        Thread.sleep(3200);
        MtaSts.Lookup expired = sts.lookup(d, anchors());
        assertFalse(expired.applies(), "expired and no record: no policy");
        assertNull(expired.failure());
    }

    @Test
    void aPolicyNearItsMaxAgeIsFetchedAgainBeforeItExpires() throws Exception {
        String d = domain(2);
        publish(d, "1", String.format(ENFORCE, d, d, 2));
        // A day ahead of expiry, but no sooner than half of max_age (1 s here).
        MtaSts sts = sts(Duration.ofHours(1), Duration.ofSeconds(5), Duration.ofDays(1));
        sts.lookup(d, anchors());
        sts.lookup(d, anchors());
        assertEquals(1, good.hits("mta-sts." + d), "not before half of max_age");
        Thread.sleep(1100);
        assertTrue(sts.lookup(d, anchors()).applies(), "still valid");
        assertEquals(2, good.hits("mta-sts." + d), "fetched again before it expires");
    }

    @Test
    void aDomainWithoutARecordIsAskedAgainOnlyAfterTheCheckInterval() {
        String d = domain(15);
        MtaSts sts = sts(Duration.ofHours(1), Duration.ofSeconds(5));
        assertFalse(sts.lookup(d, anchors()).applies());
        publish(d, "1", String.format(ENFORCE, d, d, 86400));
        assertFalse(sts.lookup(d, anchors()).applies(), "believed to have none for the check interval");
        assertTrue(sts(Duration.ofHours(1), Duration.ofSeconds(5)).lookup(d, anchors()).applies(), "found by one that asks now");
    }

    @Test
    void duePoliciesAreFetchedAgainBeforeTheyExpireWithoutAnyMail() throws Exception {
        String d = domain(17);
        publish(d, "1", String.format(ENFORCE, d, d, 2));
        MtaSts sts = sts(Duration.ofHours(1), Duration.ofSeconds(5), Duration.ofDays(1));
        sts.lookup(d, anchors());
        assertEquals(1, good.hits("mta-sts." + d));
        sts.refreshDue(anchors()); // a sweep right away
        assertEquals(1, good.hits("mta-sts." + d), "not due before half its max_age");
        Thread.sleep(1100);
        assertTrue(sts.refreshDue(anchors()) >= 1);
        assertEquals(2, good.hits("mta-sts." + d), "fetched again, no message asked for it");
    }

    @Test
    void aCachedPolicySurvivesAFailedFetch() {
        String d = domain(3);
        publish(d, "1", String.format(ENFORCE, d, d, 86400));
        MtaSts sts = sts(Duration.ZERO, Duration.ofSeconds(5));
        assertTrue(sts.lookup(d, anchors()).applies());
        dns.remove("_mta-sts." + d, org.xbill.DNS.Type.TXT).txt("_mta-sts." + d, "v=STSv1; id=2;");
        good.respond("mta-sts." + d, PATH, new Response(500, "text/plain", "oops", Duration.ZERO, Map.of()));
        MtaSts.Lookup after = sts.lookup(d, anchors());
        assertEquals("1", after.id(), "the valid cached policy is kept");
        assertTrue(after.applies());
        assertEquals(2, good.hits("mta-sts." + d), "it did try");
    }

    @Test
    void everyWayAFetchFailsIsNamedAsRfc8460Does() {
        Map<String, TlsResultType> expected = new LinkedHashMap<>();
        Map<String, String> detail = new LinkedHashMap<>();
        int i = 4;
        // Served by the good host.
        String notFound = domain(i++);
        publish(notFound, "1", null);
        expected.put(notFound, TlsResultType.STS_POLICY_FETCH_ERROR);
        detail.put(notFound, "(127.0.2.1:" + port + "): HTTP/1.1 404");
        String redirect = domain(i++);
        publish(redirect, "1", null);
        good.respond("mta-sts." + redirect, PATH, new Response(301, null, "", Duration.ZERO, Map.of("Location", "https://x.test/")));
        expected.put(redirect, TlsResultType.STS_POLICY_FETCH_ERROR);
        detail.put(redirect, "redirects are not followed");
        String html = domain(i++);
        publish(html, "1", null);
        good.respond("mta-sts." + html, PATH, new Response(200, "text/html", String.format(ENFORCE, html, html, 60), Duration.ZERO,
                Map.of()));
        expected.put(html, TlsResultType.STS_POLICY_INVALID);
        detail.put(html, "served as text/html");
        String invalid = domain(i++);
        publish(invalid, "1", "version: STSv1\nmode: enforce\nmax_age: 60\n");
        expected.put(invalid, TlsResultType.STS_POLICY_INVALID);
        detail.put(invalid, "mx: at least one");
        String huge = domain(i++);
        publish(huge, "1", String.format(ENFORCE, huge, huge, 60) + "x-padding: " + "x".repeat(70_000) + "\n");
        expected.put(huge, TlsResultType.STS_POLICY_FETCH_ERROR);
        detail.put(huge, "at most 65536");
        String slow = domain(i++);
        publish(slow, "1", null);
        good.respond("mta-sts." + slow, PATH, Response.text(String.format(ENFORCE, slow, slow, 60)).withDelay(Duration.ofSeconds(3)));
        expected.put(slow, TlsResultType.STS_POLICY_FETCH_ERROR);
        detail.put(slow, "");
        String twoRecords = domain(i++);
        publish(twoRecords, "1", String.format(ENFORCE, twoRecords, twoRecords, 60));
        dns.txt("_mta-sts." + twoRecords, "v=STSv1; id=2;");
        expected.put(twoRecords, TlsResultType.STS_POLICY_INVALID);
        detail.put(twoRecords, "2 v=STSv1 records");
        String noHost = domain(i++);
        dns.txt("_mta-sts." + noHost, "v=STSv1; id=1;");
        expected.put(noHost, TlsResultType.STS_POLICY_FETCH_ERROR);
        detail.put(noHost, "has no address");
        // Hosts whose certificate must not verify.
        String untrusted = domain(i++);
        dns.txt("_mta-sts." + untrusted, "v=STSv1; id=1;").address("mta-sts." + untrusted, "127.0.2.2");
        selfSigned.respond("mta-sts." + untrusted, PATH, Response.text(String.format(ENFORCE, untrusted, untrusted, 60)));
        expected.put(untrusted, TlsResultType.STS_WEBPKI_INVALID);
        detail.put(untrusted, "");
        String wrongName = domain(i++);
        dns.txt("_mta-sts." + wrongName, "v=STSv1; id=1;").address("mta-sts." + wrongName, "127.0.2.3");
        otherName.respond("mta-sts." + wrongName, PATH, Response.text(String.format(ENFORCE, wrongName, wrongName, 60)));
        expected.put(wrongName, TlsResultType.STS_WEBPKI_INVALID);
        detail.put(wrongName, "");

        MtaSts sts = sts(Duration.ofHours(1), Duration.ofSeconds(1));
        expected.forEach((d, type) -> {
            MtaSts.Lookup l = sts.lookup(d, anchors());
            assertFalse(l.applies(), d);
            assertEquals(type, l.failure(), d + ": " + l.detail());
            assertTrue(l.detail().contains(detail.get(d)), d + ": " + l.detail());
        });
        // A domain without a record has no policy and no failure: nothing to report.
        MtaSts.Lookup none = sts.lookup(domain(i), anchors());
        assertFalse(none.applies());
        assertNull(none.failure());
    }

    /**
     * A host that trickles one TLS record a byte at a time (each byte well within a read's
     * time-out) is cut off at the fetch's deadline, not when the record is complete (16 KiB at
     * 5 bytes a second: almost an hour).
     */
    @Test
    void aHostThatTricklesIsCutOffAtTheDeadline() throws Exception {
        String d = domain(16);
        dns.txt("_mta-sts." + d, "v=STSv1; id=1;").address("mta-sts." + d, "127.0.2.4");
        try (ServerSocket trickle = new ServerSocket(port, 5, InetAddress.getByName("127.0.2.4"))) {
            Thread t = new Thread(() -> {
                try (java.net.Socket c = trickle.accept()) {
                    java.io.OutputStream out = c.getOutputStream();
                    out.write(new byte[] {0x16, 0x03, 0x03, 0x40, 0x00}); // a handshake record of 16 KiB follows...
                    out.flush();
                    for (int i = 0; i < 16384; i++) {
                        Thread.sleep(200);
                        out.write(0); // ...one byte at a time
                        out.flush();
                    }
                } catch (Exception gone) {
                    // the client closed
                }
            }, "trickle");
            t.setDaemon(true);
            t.start();
            long start = System.nanoTime();
            MtaSts.Lookup l = sts(Duration.ofHours(1), Duration.ofSeconds(2)).lookup(d, anchors());
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(TlsResultType.STS_POLICY_FETCH_ERROR, l.failure(), l.detail());
            assertTrue(l.detail().contains("took longer than 2000 ms"), l.detail());
            assertTrue(ms < 10_000, "cut off after " + ms + " ms");
        }
    }

    private MtaSts sts(Duration checkInterval, Duration fetchTimeout) {
        return sts(checkInterval, fetchTimeout, Duration.ZERO);
    }

    private MtaSts sts(Duration checkInterval, Duration fetchTimeout, Duration refreshBefore) {
        return new MtaSts(resolver, dataSource, new MtaSts.Settings(port, fetchTimeout, 65536, checkInterval, refreshBefore, true));
    }

    private Supplier<List<X509Certificate>> anchors() {
        return () -> List.of(root.certificate());
    }

    private String domain(int i) {
        return domains.get(i);
    }

    /** The TXT record with {@code id}, the policy host's address, and (unless null) the policy served as text/plain. */
    private void publish(String domain, String id, String policy) {
        dns.remove("_mta-sts." + domain, org.xbill.DNS.Type.TXT).txt("_mta-sts." + domain, "v=STSv1; id=" + id + ";");
        dns.remove("mta-sts." + domain, org.xbill.DNS.Type.A).address("mta-sts." + domain, "127.0.2.1");
        if (policy != null) {
            good.respond("mta-sts." + domain, PATH, Response.text(policy));
        }
    }

    /** A port free on each of {@code addresses}. */
    private static int freePortOn(String... addresses) throws Exception {
        for (int attempt = 0; attempt < 50; attempt++) {
            int p;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(addresses[0]))) {
                p = s.getLocalPort();
            }
            boolean free = true;
            for (String a : addresses) {
                try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getByName(a))) {
                    // free here too
                } catch (java.io.IOException e) {
                    free = false;
                }
            }
            if (free) {
                return p;
            }
        }
        throw new IllegalStateException("no port free on all of " + List.of(addresses));
    }
}
