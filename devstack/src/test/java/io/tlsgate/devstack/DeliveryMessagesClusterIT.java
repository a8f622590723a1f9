package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.alertsFor;
import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.awaitAttempt;
import static io.tlsgate.devstack.DeliveryCluster.context;
import static io.tlsgate.devstack.DeliveryCluster.enqueue;
import static io.tlsgate.devstack.DeliveryCluster.issued;
import static io.tlsgate.devstack.DeliveryCluster.mailLog;
import static io.tlsgate.devstack.DeliveryCluster.mx;
import static io.tlsgate.devstack.DeliveryCluster.outcomeFor;
import static io.tlsgate.devstack.DeliveryCluster.peer;
import static io.tlsgate.devstack.DeliveryCluster.peerAddress;
import static io.tlsgate.devstack.DeliveryCluster.root;
import static io.tlsgate.devstack.DeliveryCluster.smtpPort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.HostileSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.ScriptedSmtpPeer.Script;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * One message at a time through the {@link DeliveryCluster}: per-recipient results and a DSN,
 * the outbound client certificate, a CIDR destination entry, STARTTLS response injection, and
 * the alert setting.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class DeliveryMessagesClusterIT {

    /**
     * Per-recipient results under a bounce profile without retries: one recipient accepted,
     * one refused (5xx), one temporarily refused (4xx, no retry left); the sender gets one DSN
     * naming the two that bounced, from the null reverse-path.
     */
    @Test
    void perRecipientResultsAndADsnToTheSender() throws Exception {
        api().ok("POST", 8081, "/api/v1/bounce-profiles", "{\"name\":\"no-retry\",\"maxRetries\":0,"
                + "\"maxTimeInQueueSeconds\":3600,\"initialRetrySeconds\":60,\"maxRetrySeconds\":600,"
                + "\"sendHardBounces\":true,\"sendDelayWarnings\":false}");
        String domain = "rcpts.test";
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + domain + "\",\"tls\":\"NONE\",\"bounceProfile\":\"no-retry\"}");
        InetAddress address = InetAddress.getByName("127.0.2.2");
        mx(domain, address.getHostAddress());
        // The valid peer takes the DSN (under a domain of its own: valid.none.test is the golden table's).
        String sender = "sender@dsn.none.test";
        mx("dsn.none.test", peerAddress("valid"));
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("rcpts", null).noStarttls()
                .rcpt("gone@" + domain, "550 5.1.1 No such user").rcpt("full@" + domain, "452 4.2.2 Mailbox full"),
                address, smtpPort())) {
            long mid = enqueue(sender, List.of("ok@" + domain, "gone@" + domain, "full@" + domain), "X-Row: rcpts");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("DONE", m.get("state").asText(), m.toString());
            JsonNode r = m.get("recipients");
            assertEquals("DELIVERED", r.get(0).get("state").asText());
            assertEquals("BOUNCED", r.get(1).get("state").asText());
            assertTrue(r.get(1).get("lastReply").asText().startsWith("550 5.1.1"), r.toString());
            assertEquals("BOUNCED", r.get(2).get("state").asText());
            assertTrue(r.get(2).get("lastReply").asText().startsWith("554 5.4.7 Delivery time expired after 1 attempt(s): "
                    + "Mailbox full"), r.toString());
            assertEquals(List.of("ok@" + domain), peer.received().get(0).rcptTo());
            assertEquals("partly", m.get("attempts").get(0).get("outcome").asText(), m.toString());

            ScriptedSmtpPeer valid = peer("valid");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            ScriptedSmtpPeer.Received dsn = null;
            while (dsn == null && System.nanoTime() < deadline) {
                dsn = valid.received().stream().filter(x -> new String(x.data(), StandardCharsets.US_ASCII)
                        .contains("X-Tlsgate-MID: " + mid + "\r\n")).findFirst().orElse(null);
                Thread.sleep(200);
            }
            assertNotNull(dsn, "no DSN reached the sender's MX");
            assertEquals("", dsn.mailFrom(), "a DSN comes from <>");
            assertEquals(List.of(sender), dsn.rcptTo());
            String body = new String(dsn.data(), StandardCharsets.US_ASCII);
            assertTrue(body.contains("Content-Type: multipart/report; report-type=delivery-status"), body);
            assertTrue(body.contains("Final-Recipient: rfc822; gone@" + domain + "\r\nAction: failed\r\nStatus: 5.1.1"), body);
            assertTrue(body.contains("Final-Recipient: rfc822; full@" + domain + "\r\nAction: failed\r\nStatus: 5.4.7"), body);
            assertFalse(body.contains("Final-Recipient: rfc822; ok@"), body);
            List<String> log = mailLog();
            long dcid = m.get("attempts").get(0).get("dcid").asLong();
            assertTrue(log.contains("Bounced: DCID " + dcid + " MID " + mid + " to RID [1] - 5.1.1 - No such user"), log.toString());
            assertTrue(log.contains("Message done DCID " + dcid + " MID " + mid + " to RID [0]"), log.toString());
        }
    }

    /**
     * The certificate assigned to slot {@code outbound} in cert-service is presented as TLS
     * client certificate; the peer (asking for one) sees its subject.
     */
    @Test
    void theOutboundSlotsCertificateIsPresentedAsClientCertificate() throws Exception {
        JsonNode was = api().get(8082, "/api/v1/assignments/outbound");
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"clientcert.test\",\"tls\":\"REQUIRED_VERIFY\"}");
        api().ok("POST", 8082, "/api/v1/certificates", "{\"name\":\"outbound-it\","
                + "\"commonName\":\"gateway.tlsgate.test\",\"subjectAltNames\":[\"gateway.tlsgate.test\"],"
                + "\"keyType\":\"EC_P256\",\"validityDays\":30}");
        String csr = api().ok("GET", 8082, "/api/v1/certificates/outbound-it/csr", null);
        X509Certificate signed = TestPki.issue(root(), TestPki.csrPublicKey(csr),
                TestPki.Spec.server("gateway.tlsgate.test", "gateway.tlsgate.test"));
        ClusterApi.ok(api().send("PUT", 8082, "/api/v1/certificates/outbound-it/certificate", "application/x-pem-file",
                TestPki.pem(signed) + root().certificatePem()));
        api().ok("PUT", 8082, "/api/v1/assignments/outbound", "{\"certificate\":\"outbound-it\"}");

        InetAddress address = InetAddress.getByName("127.0.2.3");
        mx("clientcert.test", address.getHostAddress());
        SSLContext ctx = context(issued(TestPki.Spec.server("mx.clientcert.test", "mx.clientcert.test")), false, true);
        try (ScriptedSmtpPeer peer = new ScriptedSmtpPeer(Script.tls("clientcert", ctx).requestClientCertificate(), address,
                smtpPort())) {
            Thread.sleep(1500); // past delivery's certificate refresh (1 s here)
            long mid = enqueue("sender@origin.test", List.of("user@clientcert.test"), "X-Row: clientcert");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("DONE", m.get("state").asText(), m.toString());
            ScriptedSmtpPeer.Received got = peer.received().get(0);
            assertTrue(got.tls());
            assertTrue(got.clientSubject() != null && got.clientSubject().startsWith("CN=gateway.tlsgate.test,"),
                    "the outbound slot's certificate: " + got.clientSubject());
        } finally {
            // The slot serves what it served before; the certificate goes again.
            if (was.get("assigned").asBoolean()) {
                api().ok("PUT", 8082, "/api/v1/assignments/outbound", "{\"certificate\":\"" + was.get("certificate").asText() + "\"}");
            } else {
                api().ok("DELETE", 8082, "/api/v1/assignments/outbound", null);
            }
            api().ok("DELETE", 8082, "/api/v1/certificates/outbound-it", null);
        }
    }

    /**
     * A CIDR destination entry applies to a connection whose next hop is in its range when the
     * recipient domain has no entry of its own: REQUIRED_VERIFY for 127.0.1.0/30 keeps a
     * domain whose MX is the no-STARTTLS peer (127.0.1.2) from going out in plaintext, while
     * the same peer through a domain entry still gets its mail.
     */
    @Test
    void aCidrEntryAppliesToAnMxAddressInItsRange() throws Exception {
        String domain = "cidr-range.test";
        mx(domain, "127.0.1.2"); // no-starttls peer
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"127.0.1.0/30\",\"tls\":\"REQUIRED_VERIFY\",\"bounceProfile\":\"it\"}");
        try {
            int before = peer("no-starttls").received().size();
            long mid = enqueue("sender@origin.test", "user@" + domain, "X-Row: cidr");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("QUEUED", m.get("state").asText(), m.toString());
            JsonNode tls = m.get("attempts").get(0).get("tls");
            assertEquals("REQUIRED_VERIFY", tls.get("mode").asText(), m.toString());
            assertEquals("127.0.1.0/30", tls.get("modeSource").asText(), m.toString());
            assertEquals("failure", tls.get("result").asText(), m.toString());
            assertEquals(before, peer("no-starttls").received().size(), "nothing went out in plaintext");
        } finally {
            api().ok("DELETE", 8081, "/api/v1/destinations/127.0.1.0/30", null);
        }
    }

    /**
     * STARTTLS response injection through the whole path: an MX that answers STARTTLS with its
     * 220 and a forged reply in the same segment, then does TLS properly. The message stays
     * queued, the mail log and the outcome event name the injection, and the server never
     * sees MAIL FROM.
     */
    @Test
    void plaintextAfterThe220ToStarttlsDefersTheMessage() throws Exception {
        String domain = "injected.required.test";
        InetAddress address = InetAddress.getByName("127.0.2.9");
        mx(domain, address.getHostAddress());
        SSLContext ctx = context(issued(TestPki.Spec.server("mx." + domain, "mx." + domain)), false, false);
        try (HostileSmtpPeer peer = new HostileSmtpPeer(address, smtpPort(), ctx, c -> {
            c.send("220 mx.injected.test ESMTP\r\n");
            c.readLine();
            c.send("250-mx.injected.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
            c.readLine();
            c.send("220 2.0.0 Ready to start TLS\r\n250 2.0.0 injected\r\n");
            c.startTls();
            c.sleep(500);
            for (String l = c.readLine(); l != null; l = c.readLine()) {
                c.send(l.startsWith("DATA") ? "354 go\r\n" : "250 2.0.0 Ok\r\n");
            }
        })) {
            long mid = enqueue("sender@origin.test", "user@" + domain, "X-Row: injected");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("QUEUED", m.get("state").asText(), m.toString());
            JsonNode a = m.get("attempts").get(0);
            assertEquals("failure", a.get("tls").get("result").asText(), a.toString());
            assertEquals("validation-failure", a.get("tls").get("failure").asText(), a.toString());
            long dcid = a.get("dcid").asLong();
            assertTrue(mailLog().stream().anyMatch(l -> l.startsWith("DCID " + dcid + " TLS failed: STARTTLS response injection: ")
                    && l.contains("250 2.0.0 injected")), "mail log names the injection");
            JsonNode event = outcomeFor(domain);
            assertEquals("validation-failure", event.get("resultType").asText(), event.toString());
            assertTrue(event.get("reason").asText().startsWith("STARTTLS response injection: "), event.toString());
            assertTrue(peer.transcript().stream().noneMatch(l -> l.startsWith("C: MAIL")), peer.transcript().toString());
            assertTrue(peer.errors().isEmpty(), peer.errors().toString());
        }
    }

    /** With the global alert setting off, a required-TLS failure is logged and reported as an outcome, but nobody is paged. */
    @Test
    void noAlertWhenTheGlobalSettingIsOff() throws Exception {
        api().ok("PUT", 8081, "/api/v1/settings/outbound", "{\"alertOnRequiredTlsFailure\":false}");
        try {
            String domain = "quiet.required.test";
            mx(domain, "127.0.1.2"); // no-starttls peer
            long mid = enqueue("sender@origin.test", "user@" + domain, "X-Row: quiet");
            JsonNode m = awaitAttempt(mid, Duration.ofSeconds(60));
            assertEquals("QUEUED", m.get("state").asText());
            assertNotNull(outcomeFor(domain));
            assertEquals(0, alertsFor(domain), "no alert with the setting off");
        } finally {
            api().ok("PUT", 8081, "/api/v1/settings/outbound", "{\"alertOnRequiredTlsFailure\":true}");
        }
    }
}
