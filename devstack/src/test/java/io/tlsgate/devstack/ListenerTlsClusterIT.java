package io.tlsgate.devstack;

import static io.tlsgate.devstack.ListenerCluster.EHLO;
import static io.tlsgate.devstack.ListenerCluster.HELLO;
import static io.tlsgate.devstack.ListenerCluster.MX;
import static io.tlsgate.devstack.ListenerCluster.QUEUED;
import static io.tlsgate.devstack.ListenerCluster.QUIT;
import static io.tlsgate.devstack.ListenerCluster.STARTTLS;
import static io.tlsgate.devstack.ListenerCluster.api;
import static io.tlsgate.devstack.ListenerCluster.awaitInside;
import static io.tlsgate.devstack.ListenerCluster.clientRoot;
import static io.tlsgate.devstack.ListenerCluster.dialogue;
import static io.tlsgate.devstack.ListenerCluster.ehloAfterTls;
import static io.tlsgate.devstack.ListenerCluster.ehloWithoutStarttls;
import static io.tlsgate.devstack.ListenerCluster.icidLines;
import static io.tlsgate.devstack.ListenerCluster.icidOf;
import static io.tlsgate.devstack.ListenerCluster.mailRcptData;
import static io.tlsgate.devstack.ListenerCluster.outcome;
import static io.tlsgate.devstack.ListenerCluster.smtp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.DebianTools;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.SmtpDialogue;
import io.tlsgate.testkit.TestPki;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Inbound TLS in the {@link ListenerCluster}: each TLS setting of a mail flow policy, STARTTLS
 * command injection, renegotiation, what testssl.sh finds, real clients (swaks, smtplib) and a
 * certificate rotation.
 */
@ExtendWith(ListenerCluster.Shared.class)
class ListenerTlsClusterIT {

    private static final String SLOT = "listener:inbound";

    /** Each TLS setting of a mail flow policy, as docs/inbound-policy.md says, with its outcome event. */
    @Test
    void everyInboundTlsSetting() throws Exception {
        // OFF: not advertised, STARTTLS refused, mail accepted in plaintext.
        long off = icidOf(dialogue("127.0.3.1", HELLO + ehloWithoutStarttls("client.test") + """
                C: STARTTLS
                S: 502 5.5.1 Error: command not implemented
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                """ + QUIT));
        assertEquals("not-attempted", outcome(off).get("result").asText());

        // PREFERRED: plaintext fine, except for the TLS-mandatory senders; after TLS they may send.
        long pref = icidOf(dialogue("127.0.3.2", HELLO + EHLO + """
                C: MAIL FROM:<ceo@bank.test>
                S: 530 5.7.0 Must issue a STARTTLS command first
                C: MAIL FROM:<someone@origin.test>
                S: 250 2.1.0 Ok
                C: RSET
                S: 250 2.0.0 Ok
                C: STARTTLS now
                S: 501 5.5.4 Syntax: STARTTLS
                """ + STARTTLS + """
                C: MAIL FROM:<ceo@bank.test>
                S: 503 5.5.1 Error: send HELO/EHLO first
                """ + ehloAfterTls("client.test") + """
                C: STARTTLS
                S: 503 5.5.1 Error: TLS already active
                C: MAIL FROM:<ceo@bank.test>
                S: 250 2.1.0 Ok
                C: RCPT TO:<x@accepted.test>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 *
                C: X-Test: preferred-tls\\r\\n\\r\\nbody\\r\\n.
                """ + QUEUED + QUIT));
        JsonNode e = outcome(pref);
        assertEquals("success", e.get("result").asText());
        assertTrue(e.get("protocol").asText().startsWith("TLSv1."), e.toString());
        assertEquals("not-checked", e.get("verification").asText());
        assertTrue(icidLines(pref).stream().anyMatch(l -> l.matches("ICID " + pref + " TLS success protocol TLSv1\\.[23] cipher \\S+")));
        assertTrue(awaitInside("X-Test: preferred-tls", Duration.ofSeconds(60)).data().length > 0);

        // REQUIRED: everything but EHLO/HELO/NOOP/RSET/QUIT/STARTTLS is 530 before TLS.
        long req = icidOf(dialogue("127.0.3.3", HELLO + """
                C: NOOP
                S: 250 2.0.0 Ok
                C: MAIL FROM:<a@origin.test>
                S: 530 5.7.0 Must issue a STARTTLS command first
                C: VRFY x
                S: 530 5.7.0 Must issue a STARTTLS command first
                C: HELO client.test
                S: 250 mx.tlsgate.test
                C: RCPT TO:<x@accepted.test>
                S: 530 5.7.0 Must issue a STARTTLS command first
                C: RSET
                S: 250 2.0.0 Ok
                """ + QUIT));
        e = outcome(req);
        assertEquals("failure", e.get("result").asText());
        assertEquals("starttls-not-supported", e.get("resultType").asText());
        assertTrue(icidLines(req).contains("ICID " + req + " TLS was required but remote host did not initiate it"));
        String tlsThenMail = HELLO + STARTTLS + ehloAfterTls("client.test") + """
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                """ + QUIT;
        long reqTls = icidOf(dialogue("127.0.3.3", tlsThenMail));
        assertEquals("success", outcome(reqTls).get("result").asText());

        // *_VERIFY: a client certificate from a trusted CA, none, one from an unknown CA.
        KeyPair keys = TestPki.ecKeys();
        X509Certificate good = TestPki.issue(clientRoot(), keys.getPublic(),
                TestPki.Spec.server("client.partner.test", "client.partner.test"));
        SSLContext withGood = SmtpDialogue.trustAll(TestPki.keyManagers(keys, good, clientRoot().certificate()).getKeyManagers());
        TestPki.Issued stranger = TestPki.selfSignedCa("stranger.test", Duration.ofDays(30));
        SSLContext withBad = SmtpDialogue.trustAll(TestPki.keyManagers(stranger.keys(), stranger.certificate()).getKeyManagers());
        String tlsRefused = HELLO + """
                C: STARTTLS
                S: 220 2.0.0 Ready to start TLS
                TLS fails
                """;
        for (String ip : List.of("127.0.3.4", "127.0.3.5")) {
            boolean required = ip.endsWith(".5");
            long withCert = icidOf(dialogue(ip, withGood, tlsThenMail));
            e = outcome(withCert);
            assertEquals("success", e.get("result").asText(), ip + " " + e);
            assertEquals("success", e.get("verification").asText(), ip + " " + e);
            assertTrue(e.get("clientCertificate").asText().contains("CN=client.partner.test"), e.toString());
            assertTrue(icidLines(withCert).stream().anyMatch(l -> l.startsWith("ICID " + withCert + " TLS client certificate verified: ")));

            long none = icidOf(dialogue(ip, SmtpDialogue.trustAll(null), required ? tlsRefused : tlsThenMail));
            e = outcome(none);
            assertEquals(required ? "failure" : "success", e.get("result").asText(), ip + " without a certificate: " + e);
            assertEquals(required ? "failure" : "not-presented", e.get("verification").asText(), e.toString());

            long bad = icidOf(dialogue(ip, withBad, tlsRefused));
            e = outcome(bad);
            assertEquals("failure", e.get("result").asText(), ip + " untrusted certificate: " + e);
            assertEquals("certificate-not-trusted", e.get("resultType").asText(), e.toString());
            assertTrue(icidLines(bad).stream().anyMatch(l -> l.startsWith("ICID " + bad + " TLS failed: client certificate ")),
                    icidLines(bad).toString());
        }
    }

    /** RFC 3207 §5: plaintext pipelined after STARTTLS (same packet, or next packet before the handshake) never counts. */
    /**
     * RFC 8689 through the listener: MAIL FROM with REQUIRETLS over TLS, and a message with a
     * {@code TLS-Required: No} header field, reach the queue with what their senders asked
     * ({@code tlsRequest}); REQUIRETLS wins over the header. The null sender keeps a returned
     * message from making a bounce here.
     */
    @Test
    void requireTlsAndTlsRequiredNoReachTheQueue() throws Exception {
        SmtpDialogue d = dialogue("127.0.0.1", HELLO + EHLO + STARTTLS + ehloAfterTls("client.test") + """
                C: MAIL FROM:<> REQUIRETLS\\r\\nRCPT TO:<rtls@accepted.test>\\r\\nDATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 354 *
                C: Subject: requiretls\\r\\nTLS-Required: No\\r\\n\\r\\nbody\\r\\n.
                """ + QUEUED + """
                C: MAIL FROM:<>\\r\\nRCPT TO:<rtls@accepted.test>\\r\\nDATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 354 *
                C: Subject: optional\\r\\nTLS-required:\\r\\n  no\\r\\n\\r\\nbody\\r\\n.
                """ + QUEUED + QUIT);
        List<Long> mids = d.transcript().lines().filter(l -> l.startsWith("S: 250 2.0.0 Ok: queued as "))
                .map(ListenerCluster::queuedMid).toList();
        assertEquals(2, mids.size(), d.transcript());
        assertEquals("REQUIRE_TLS", ListenerCluster.message(mids.get(0)).get("tlsRequest").asText());
        assertEquals("TLS_OPTIONAL", ListenerCluster.message(mids.get(1)).get("tlsRequest").asText(), "a folded field counts too");
    }

    @Test
    void starttlsCommandInjectionClosesTheConnection() throws Exception {
        long same = icidOf(dialogue("127.0.3.2", HELLO + EHLO + """
                C: STARTTLS\\r\\nMAIL FROM:<injected@evil.test>
                S: 220 2.0.0 Ready to start TLS
                CLOSED
                """));
        assertTrue(icidLines(same).stream().anyMatch(l -> l.startsWith("ICID " + same + " TLS failed: command injection: ")),
                icidLines(same).toString());
        assertEquals("failure", outcome(same).get("result").asText());

        long next = icidOf(dialogue("127.0.3.2", HELLO + """
                C: STARTTLS
                S: 220 2.0.0 Ready to start TLS
                C: MAIL FROM:<injected@evil.test>
                CLOSED
                """));
        assertTrue(icidLines(next).stream().anyMatch(l -> l.startsWith("ICID " + next + " TLS failed: ")), icidLines(next).toString());
        assertTrue(icidLines(next).stream().noneMatch(l -> l.contains("injected@evil.test")), "never taken as a command");
    }

    /**
     * A TLS 1.2 client that starts a second handshake on its STARTTLS session (JSSE's
     * startHandshake() again) is refused: handshake_failure alert, connection closed, and the
     * mail log says so. Before the fix the server renegotiated and answered the next NOOP.
     */
    @Test
    void clientInitiatedRenegotiationIsRefused() throws Exception {
        SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp()).tls(SmtpDialogue.trustAll("TLSv1.2", null));
        String answer = null;
        Throwable refused = null;
        try {
            d.run(HELLO + STARTTLS + "C: NOOP\nS: 250 2.0.0 Ok\n");
            assertEquals("TLSv1.2", d.tlsSession().getProtocol(), "renegotiation exists up to TLS 1.2 only");
            try {
                ((javax.net.ssl.SSLSocket) d.socket()).startHandshake(); // a new ClientHello on the established session
                d.send("NOOP\r\n");
                answer = d.reply().get(0);
            } catch (java.io.IOException | AssertionError e) {
                refused = e;
            }
        } finally {
            d.close();
        }
        assertEquals(null, answer, "the server renegotiated and answered:\n" + d.transcript());
        assertNotNull(refused);
        long icid = icidOf(d);
        assertTrue(icidLines(icid).contains("ICID " + icid + " TLS client-initiated renegotiation refused; connection closed"),
                icidLines(icid) + "\n" + refused);
    }

    /**
     * testssl.sh (Debian's) against STARTTLS on the listener: no protocol below TLS 1.2 (SSLv2/3,
     * TLS 1.0/1.1), no weak cipher category, secure renegotiation (RFC 5746) but none initiated
     * by the client (its "Secure Client-Initiated Renegotiation" check, an "R" in openssl s_client
     * over TLS 1.2).
     */
    @Test
    void testsslFindsNoOldProtocolsAndNoWeakCiphers() throws Exception {
        String testssl = DebianTools.require("testssl", "testssl.sh");
        Path json = api().data().resolve("testssl.json");
        Process p = new ProcessBuilder(testssl, "--starttls", "smtp", "--quiet", "--color", "0", "--warnings", "off",
                "--jsonfile", json.toString(), "-p", "-s", "-R", "127.0.0.1:" + smtp()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), out);
        Map<String, String> findings = new HashMap<>();
        for (JsonNode f : ClusterApi.JSON.readTree(json.toFile())) {
            findings.put(f.get("id").asText(), f.get("finding").asText());
        }
        for (String id : List.of("SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
                "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE")) {
            assertEquals("not offered", findings.get(id), id + " in\n" + out);
        }
        assertTrue(findings.get("TLS1_2").startsWith("offered"), out);
        assertTrue(findings.get("TLS1_3").startsWith("offered"), out);
        assertTrue(findings.get("cipherlist_STRONG").startsWith("offered"), out);
        assertEquals("supported", findings.get("secure_renego"), out);
        assertEquals("not vulnerable", findings.get("secure_client_renego"), out);
    }

    /** Real clients: swaks --tls and Python's smtplib with starttls() deliver through the listener to the internal server. */
    @Test
    void swaksAndSmtplibDeliverOverStarttls() throws Exception {
        String swaks = DebianTools.require("swaks", "swaks");
        DebianTools.requirePackage("libnet-ssleay-perl");
        DebianTools.requirePackage("libio-socket-ssl-perl");
        String python = DebianTools.require("python3", "python3");
        Process p = new ProcessBuilder(swaks, "--server", "127.0.0.1:" + smtp(), "--tls", "--ehlo", "swaks.client.test",
                "--from", "swaks@origin.test", "--to", "rcpt@accepted.test", "--header", "X-Test: swaks",
                "--body", "sent by swaks").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("<-  220 2.0.0 Ready to start TLS") && out.contains(" ~> QUIT"), "swaks used STARTTLS:\n" + out);
        assertTrue(out.matches("(?s).*<~  250 2\\.0\\.0 Ok: queued as \\d+.*"), out);
        ScriptedSmtpPeer.Received bySwaks = awaitInside("X-Test: swaks", Duration.ofSeconds(60));
        assertTrue(new String(bySwaks.data(), StandardCharsets.UTF_8).contains("with ESMTPS id"), "the Received header says TLS");

        String script = """
                import smtplib, ssl, sys
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="python.client.test", timeout=30) as s:
                    s.ehlo()
                    s.starttls(context=ctx)
                    s.ehlo()
                    assert s.sock.version().startswith("TLSv1."), s.sock.version()
                    refused = s.sendmail("py@origin.test", ["rcpt@accepted.test"], b"X-Test: smtplib\\r\\n\\r\\nsent by smtplib\\r\\n")
                    assert refused == {}, refused
                print("ok", s.sock is None)
                """;
        p = new ProcessBuilder(python, "-c", script, String.valueOf(smtp())).redirectErrorStream(true).start();
        out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        ScriptedSmtpPeer.Received byPython = awaitInside("X-Test: smtplib", Duration.ofSeconds(60));
        assertTrue(new String(byPython.data(), StandardCharsets.UTF_8).contains("with ESMTPS id"), "the Received header says TLS");
    }

    /**
     * A new certificate assigned to the listener's slot serves new sessions; an open TLS session
     * goes on untouched. Afterwards the slot serves what it served before (the new certificate
     * is deleted again), and new sessions get that.
     */
    @Test
    void certificateRotationKeepsOpenSessions() throws Exception {
        JsonNode was = api().get(8082, "/api/v1/assignments/" + SLOT);
        String before = null;
        String after = null;
        SmtpDialogue open = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp());
        try {
            open.run(HELLO + STARTTLS);
            before = subject(open);
            api().ok("POST", 8082, "/api/v1/certificates", "{\"name\":\"mx-rotated\",\"commonName\":\"" + MX
                    + "\",\"keyType\":\"EC_P256\"}");
            api().ok("PUT", 8082, "/api/v1/assignments/" + SLOT, "{\"certificate\":\"mx-rotated\"}");
            after = subjectOfNewSessionsOtherThan(before);
            assertTrue(after.contains("CN=" + MX), "new sessions get the rotated certificate: " + after + " (before: " + before + ")");
            open.run(ehloAfterTls("still.open.test") + mailRcptData("a@origin.test", "rotation@accepted.test")
                    + "C: X-Test: across rotation\\r\\n\\r\\n.\n" + QUEUED + QUIT);
            assertEquals(before, subject(open), "the open session kept its certificate");
            JsonNode status = api().get(8084, "/api/v1/smtp/listeners").get(0);
            assertEquals("mx-rotated", status.get("certificate").asText());
            assertEquals(false, status.get("demoCertificate").asBoolean());
        } finally {
            open.close();
            if (was.get("assigned").asBoolean()) {
                api().ok("PUT", 8082, "/api/v1/assignments/" + SLOT, "{\"certificate\":\"" + was.get("certificate").asText() + "\"}");
            } else {
                api().ok("DELETE", 8082, "/api/v1/assignments/" + SLOT, null);
            }
            api().ok("DELETE", 8082, "/api/v1/certificates/mx-rotated", null);
        }
        assertEquals(before, subjectOfNewSessionsOtherThan(after), "new sessions get the certificate from before the rotation again");
    }

    /** The subject of the certificate new sessions get, once it is no longer {@code old} (or still {@code old} after 20 s). */
    private static String subjectOfNewSessionsOtherThan(String old) throws Exception {
        String now = old;
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (now.equals(old) && System.nanoTime() < deadline) {
            now = subject(dialogue("127.0.0.1", HELLO + STARTTLS + QUIT));
            Thread.sleep(200);
        }
        return now;
    }

    private static String subject(SmtpDialogue d) throws Exception {
        return ((X509Certificate) d.tlsSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
    }
}
