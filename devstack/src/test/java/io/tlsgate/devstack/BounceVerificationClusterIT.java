package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.core.smtp.BounceTags;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Bounce verification end to end, with the keys devstack generated for the cluster:
 * delivery-service tags the envelope sender of mail to a destination with
 * {@code bounceVerification} on (and only there); listener-service takes a bounce to a tagged
 * address for the untagged one and refuses a forged tag.
 */
@ExtendWith({DeliveryCluster.Shared.class, ListenerCluster.Shared.class})
class BounceVerificationClusterIT {

    private static ScriptedSmtpPeer.Received awaitReceived(ScriptedSmtpPeer peer, String rcpt, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (ScriptedSmtpPeer.Received r : peer.received()) {
                if (r.rcptTo().contains(rcpt)) {
                    return r;
                }
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the peer never got mail for " + rcpt);
    }

    @Test
    void deliveryTagsTheSenderOnlyForDestinationsWithBounceVerification() throws Exception {
        long n = System.nanoTime() % 100000;
        String tagged = "bv" + n + ".none.test";
        String plain = "nobv" + n + ".none.test";
        for (String d : List.of(tagged, plain)) {
            DeliveryCluster.dns().mx(d, 10, "mx." + DeliveryCluster.domain("valid", "NONE"));
        }
        DeliveryCluster.api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + tagged
                + "\",\"tls\":\"NONE\",\"bounceVerification\":true}");
        try {
            DeliveryCluster.enqueue("Owner@Example.org", "rcpt@" + tagged, "X-Test: tagged");
            DeliveryCluster.enqueue("owner@example.org", "rcpt@" + plain, "X-Test: untagged");
            ScriptedSmtpPeer peer = DeliveryCluster.peer("valid");
            String from = awaitReceived(peer, "rcpt@" + tagged, Duration.ofSeconds(60)).mailFrom();
            assertTrue(from.matches("prvs=[0-9][0-9]{3}[0-9a-f]{6}=Owner@Example\\.org"), from);
            BounceTags tags = BounceTags.of(DeliveryCluster.api().secrets().bounceKeys(), 7);
            BounceTags.Checked checked = tags.check(from, LocalDate.now(ZoneOffset.UTC));
            assertEquals(new BounceTags.Checked(BounceTags.Verdict.VALID, "Owner@Example.org"), checked);
            assertEquals("owner@example.org", awaitReceived(peer, "rcpt@" + plain, Duration.ofSeconds(60)).mailFrom());
        } finally {
            DeliveryCluster.api().ok("DELETE", 8081, "/api/v1/destinations/" + tagged, null);
        }
    }

    @Test
    void theListenerTakesBouncesToValidTagsForTheUntaggedAddressAndRefusesForgedOnes() throws Exception {
        BounceTags tags = BounceTags.of(ListenerCluster.api().secrets().bounceKeys(), 7);
        String valid = tags.tag("owner@accepted.test", LocalDate.now(ZoneOffset.UTC));
        String forged = valid.replace("owner@", "victim@");
        String expired = tags.tag("owner@accepted.test", LocalDate.now(ZoneOffset.UTC).minusDays(9));
        try (var d = ListenerCluster.dialogue("127.0.0.1", ListenerCluster.HELLO + ListenerCluster.HELO + """
                C: MAIL FROM:<>
                S: 250 2.1.0 Ok
                C: RCPT TO:<%1$s>
                S: 550 5.7.1 <%1$s>: bounce verification failed: the address tag is invalid or expired
                C: RCPT TO:<%2$s>
                S: 550 5.7.1 <%2$s>: bounce verification failed: the address tag is invalid or expired
                C: RCPT TO:<%3$s>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 *
                C: X-Test: bounce verified\\r\\n\\r\\nDelivery failed\\r\\n.
                """.formatted(forged, expired, valid) + ListenerCluster.QUEUED + ListenerCluster.QUIT)) {
            long icid = ListenerCluster.icidOf(d);
            ScriptedSmtpPeer.Received got = ListenerCluster.awaitInside("X-Test: bounce verified", Duration.ofSeconds(60));
            assertEquals("", got.mailFrom());
            assertEquals(List.of("owner@accepted.test"), got.rcptTo());
            List<String> log = ListenerCluster.icidLines(icid);
            assertTrue(log.contains("ICID " + icid + " RID 0 rejected <" + forged + ">: bounce verification failed "
                    + "(invalid or expired tag)"), log.toString());
            assertTrue(log.contains("ICID " + icid + " RID 0 bounce verification tag valid: <" + valid
                    + "> is <owner@accepted.test>"), log.toString());
        }
        String scrape = ListenerCluster.api().ok(ListenerCluster.api().send("GET", 8084, "/q/metrics", null, null));
        List<String> counted = scrape.lines().filter(l -> l.startsWith("tlsgate_listener_rejections_total{")
                && l.contains("listener=\"inbound\"") && l.contains("reason=\"bounce-verification\"")).toList();
        assertEquals(1, counted.size(), scrape);
        assertTrue(Double.parseDouble(counted.get(0).substring(counted.get(0).lastIndexOf(' ') + 1)) >= 2, counted.toString());
    }
}
