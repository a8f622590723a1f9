package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.awaitAttempt;
import static io.tlsgate.devstack.DeliveryCluster.context;
import static io.tlsgate.devstack.DeliveryCluster.dns;
import static io.tlsgate.devstack.DeliveryCluster.enqueue;
import static io.tlsgate.devstack.DeliveryCluster.issued;
import static io.tlsgate.devstack.DeliveryCluster.mx;
import static io.tlsgate.devstack.DeliveryCluster.root;
import static io.tlsgate.devstack.DeliveryCluster.smtpPort;
import static io.tlsgate.devstack.DeliveryCluster.spkiSha256;
import static io.tlsgate.devstack.DeliveryCluster.tlsaName;
import static io.tlsgate.devstack.DeliveryCluster.untrusted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.TestHttpsServer;
import io.tlsgate.testkit.TestPki;
import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * TLSRPT (RFC 8460) in the {@link DeliveryCluster}: a DANE domain that publishes a TLSRPT
 * record gets one successful and one failed session today; its report validates against the
 * RFC's report format (written out as a JSON Schema), says exactly that, and is delivered to
 * its {@code mailto:} address (a real message through the gateway's own queue) and POSTed to
 * its {@code https:} URI, once.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class DeliveryTlsRptClusterIT {

    private static final String DOMAIN = "rpt.dane.test";
    private static final JsonSchema SCHEMA = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012)
            .getSchema(DeliveryTlsRptClusterIT.class.getResourceAsStream("/tlsrpt/report.schema.json"));

    @Test
    void aDaysSessionsAreReportedByMailAndHttpsInTheRfcFormat() throws Exception {
        String tlsa = tlsaName(DOMAIN);
        TestPki.Issued id = untrusted("mx." + DOMAIN);
        KeyPair httpsKeys = TestPki.ecKeys();
        TestPki.Issued httpsId = new TestPki.Issued(httpsKeys, TestPki.issue(root(), httpsKeys.getPublic(),
                TestPki.Spec.server("127.0.1.96", "IP:127.0.1.96")));
        api().ok("POST", 8081, "/api/v1/destinations", "{\"key\":\"" + DOMAIN + "\",\"tls\":\"NONE\",\"bounceProfile\":\"it\"}");
        try (ScriptedSmtpPeer dane = new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("rpt", TestPki.serverContext(id.keys(), null,
                id.certificate())), InetAddress.getByName("127.0.1.95"), smtpPort());
                ScriptedSmtpPeer reports = new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("reports", context(issued(
                        TestPki.Spec.server("mx.reports.test", "mx.reports.test")), false)), InetAddress.getByName("127.0.1.97"),
                        smtpPort());
                TestHttpsServer collector = new TestHttpsServer("127.0.1.96", 0, TestPki.serverContext(httpsKeys, null,
                        httpsId.certificate(), root().certificate()))) {
            mx(DOMAIN, "127.0.1.95");
            mx("reports.test", "127.0.1.97");
            dns().txt("_smtp._tls." + DOMAIN, "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test,https://127.0.1.96:"
                    + collector.port() + "/v1/tlsrpt");
            collector.respond("127.0.1.96", "/v1/tlsrpt", TestHttpsServer.Response.text("thanks\n"));

            // One session that DANE authenticates, then (the records changed) one it refuses.
            dns().tlsa(tlsa, 3, 1, 1, spkiSha256(id.certificate().getPublicKey()));
            JsonNode ok = awaitAttempt(enqueue("sender@origin.test", "user@" + DOMAIN, "X-Rpt: ok"), Duration.ofSeconds(60));
            assertEquals("DONE", ok.get("state").asText(), ok.toString());
            dns().remove(tlsa, org.xbill.DNS.Type.TLSA).tlsa(tlsa, 3, 1, 1, new byte[32]);
            JsonNode bad = awaitAttempt(enqueue("sender@origin.test", "user@" + DOMAIN, "X-Rpt: bad"), Duration.ofSeconds(60));
            assertEquals("tlsa-invalid", bad.get("attempts").get(0).get("tls").get("failure").asText(), bad.toString());

            String today = LocalDate.now(ZoneOffset.UTC).toString();
            JsonNode report = api().get(8083, "/api/v1/tlsrpt/report?domain=" + DOMAIN + "&day=" + today);
            assertValid(report);
            assertEquals(1, report.get("policies").size(), report.toString());
            JsonNode p = report.get("policies").get(0);
            assertEquals("tlsa", p.at("/policy/policy-type").asText(), report.toString());
            assertEquals(DOMAIN, p.at("/policy/policy-domain").asText());
            assertEquals("mx." + DOMAIN, p.at("/policy/mx-host/0").asText(), report.toString());
            assertEquals(1, p.at("/summary/total-successful-session-count").asInt(), report.toString());
            assertEquals(1, p.at("/summary/total-failure-session-count").asInt(), report.toString());
            assertEquals("tlsa-invalid", p.at("/failure-details/0/result-type").asText(), report.toString());
            assertEquals("mx." + DOMAIN, p.at("/failure-details/0/receiving-mx-hostname").asText());
            assertEquals("127.0.1.95", p.at("/failure-details/0/receiving-ip").asText());
            assertEquals(1, p.at("/failure-details/0/failed-session-count").asInt());

            HttpResponse<String> badDay = api().send("GET", 8083, "/api/v1/tlsrpt/report?domain=" + DOMAIN + "&day=yesterday",
                    null, null);
            assertEquals(400, badDay.statusCode(), badDay.body());
            assertTrue(badDay.body().contains("\"day\""), badDay.body());

            JsonNode sent = ClusterApi.JSON.readTree(api().ok("POST", 8083, "/api/v1/tlsrpt/send?day=" + today, null));
            JsonNode mine = null;
            for (JsonNode s : sent) {
                if (s.get("domain").asText().equals(DOMAIN)) {
                    mine = s;
                }
            }
            assertTrue(mine != null && mine.get("results").size() == 2, sent.toString());
            // Once per domain and day: a second round sends nothing for it.
            assertTrue(!api().ok("POST", 8083, "/api/v1/tlsrpt/send?day=" + today, null).contains(DOMAIN), "sent once");

            TestHttpsServer.Request post = collector.requests().stream().filter(r -> r.method().equals("POST")).findFirst()
                    .orElseThrow(() -> new AssertionError("no POST to the https: URI"));
            assertEquals("application/tlsrpt+gzip", post.contentType());
            JsonNode posted = ClusterApi.JSON.readTree(gunzip(post.body()));
            assertValid(posted);
            assertEquals(report.get("policies"), posted.get("policies"));

            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (reports.received().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertEquals(1, reports.received().size(), "the mailto: report was delivered");
            ScriptedSmtpPeer.Received mail = reports.received().get(0);
            assertEquals(List.of("tlsrpt@reports.test"), mail.rcptTo());
            String text = new String(mail.data(), StandardCharsets.US_ASCII);
            assertTrue(text.contains("Content-Type: multipart/report; report-type=\"tlsrpt\""), text);
            assertTrue(text.contains("TLS-Report-Domain: " + DOMAIN + "\r\n"), text);
            assertTrue(text.contains("TLS-Required: No\r\n"), text);
            Matcher m = Pattern.compile("filename=\"([^\"]+)\"\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--").matcher(text);
            assertTrue(m.find(), text);
            assertTrue(m.group(1).contains("!" + DOMAIN + "!") && m.group(1).endsWith(".json.gz"), m.group(1));
            JsonNode mailed = ClusterApi.JSON.readTree(gunzip(Base64.getMimeDecoder().decode(m.group(2))));
            assertEquals(posted, mailed);
        } finally {
            api().ok("DELETE", 8081, "/api/v1/destinations/" + DOMAIN, null);
        }
    }

    private static void assertValid(JsonNode report) {
        Set<ValidationMessage> errors = SCHEMA.validate(report);
        assertTrue(errors.isEmpty(), errors + " in " + report);
    }

    private static byte[] gunzip(byte[] gz) throws Exception {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
            return in.readAllBytes();
        }
    }
}
