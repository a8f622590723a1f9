package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.DebianTools;
import io.tlsgate.testkit.KafkaRecords;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.SmtpDialogue;
import io.tlsgate.testkit.TestDnsServer;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * listener-service in the cluster: real policy-service (listeners, HAT, mail flow policies,
 * RAT, SMTP route), cert-service (the listener's certificate, trusted CAs for client
 * certificates), delivery-service (the queue) with PostgreSQL and Kafka, and a DNS server on
 * loopback for reverse DNS. Clients connect from loopback addresses 127.0.3.x, one per sender
 * group, and follow send/expect scripts over real sockets; accepted mail goes on to a scripted
 * "internal" server through the SMTP route.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ListenerClusterIT {

    private static final int OFFSET = 3000;
    private static final String MX = "mx.tlsgate.test";
    private static final String HELLO = "S: 220 " + MX + " ESMTP tlsgate";

    private static Path data;
    private static DevStack stack;
    private static ClusterApi api;
    private static TestDnsServer dns;
    private static ScriptedSmtpPeer inside;
    private static TestPki.Issued root;
    private static int smtp;
    private static int tiny;

    @BeforeAll
    static void cluster() throws Exception {
        dns = new TestDnsServer();
        // Reverse DNS: 127.0.3.10 is forward-confirmed, 127.0.3.11's PTR name points elsewhere.
        dns.ptr("127.0.3.10", "mx1.partner.test").address("mx1.partner.test", "127.0.3.10");
        dns.ptr("127.0.3.11", "mx2.partner.test").address("mx2.partner.test", "127.0.3.99");
        Map<String, String> env = new HashMap<>();
        env.put("TLSGATE_DNS_SERVER", dns.address());
        // The hosts file answers before DNS, both ways: 127.0.0.1 is localhost, forward-confirmed.
        java.nio.file.Path hosts = java.nio.file.Files.createTempFile("tlsgate-listener-it-hosts", "");
        hosts.toFile().deleteOnExit();
        java.nio.file.Files.writeString(hosts, "127.0.0.1 localhost\n::1 localhost\n");
        env.put("TLSGATE_DNS_HOSTS_FILE", hosts.toString());
        // The tests' MX hosts listen on loopback addresses.
        env.put("TLSGATE_DELIVERY_MX_LOCAL_ADDRESSES", "true");
        env.put("TLSGATE_LISTENER_IDLE_TIMEOUT", "4s");
        env.put("TLSGATE_LISTENER_SESSION_TIMEOUT", "25s");
        env.put("TLSGATE_DELIVERY_POLL_INTERVAL", "200ms");
        // Smaller than the inbound listener's 64 KiB, so that delivery-service refuses a message the listener let through.
        env.put("TLSGATE_DELIVERY_MAX_MESSAGE_SIZE", "40000");
        api = ClusterApi.start("listener", OFFSET, env);
        stack = api.stack();
        data = api.data();
        smtp = api.port(2525);
        tiny = api.port(2526);

        root = TestPki.selfSignedCa("Listener IT Client Root", Duration.ofDays(30));
        assertEquals(201, api.send("POST", 8082, "/api/v1/trusted-cas", "application/x-pem-file", root.certificatePem()).statusCode());

        KeyPair insideKeys = TestPki.ecKeys();
        TestPki.Issued insideCa = TestPki.selfSignedCa("inside.accepted.test", Duration.ofDays(30));
        inside = new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("inside", TestPki.serverContext(insideCa.keys(), null,
                insideCa.certificate())), InetAddress.getByName("127.0.0.1"), 0);
        assertNotNull(insideKeys);

        // Policies: one per TLS setting, the built-in ones for RELAY and REJECT, TCPREFUSE, limits.
        policy("T_OFF", "ACCEPT", "OFF", "");
        policy("T_PREF", "ACCEPT", "PREFERRED", ",\"tlsMandatorySenders\":[\"@bank.test\"]");
        policy("T_REQ", "ACCEPT", "REQUIRED", "");
        policy("T_PREFV", "ACCEPT", "PREFERRED_VERIFY", "");
        policy("T_REQV", "ACCEPT", "REQUIRED_VERIFY", "");
        policy("T_REFUSE", "TCPREFUSE", "OFF", "");
        policy("T_LIMITS", "ACCEPT", "OFF", ",\"maxRecipientsPerMessage\":2,\"maxMessagesPerConnection\":2");
        group("OFFS", "T_OFF", "127.0.3.1");
        group("PREFS", "T_PREF", "127.0.3.2");
        group("REQS", "T_REQ", "127.0.3.3");
        group("PREFVS", "T_PREFV", "127.0.3.4");
        group("REQVS", "T_REQV", "127.0.3.5");
        group("REFUSES", "T_REFUSE", "127.0.3.8");
        group("LIMITS", "T_LIMITS", "127.0.3.9");
        group("PARTNERS", "T_OFF", ".partner.test");
        api.ok("PUT", 8081, "/api/v1/sender-groups/RELAYLIST", "{\"policy\":\"RELAYED\",\"senders\":[\"127.0.3.6\"]}");
        api.ok("PUT", 8081, "/api/v1/sender-groups/BLOCKLIST", "{\"policy\":\"BLOCKED\",\"senders\":[\"127.0.3.7\"]}");
        api.ok("PUT", 8081, "/api/v1/listeners/inbound", "{\"port\":2525,\"hostname\":\"" + MX + "\",\"maxMessageSizeBytes\":65536}");
        api.ok("PUT", 8081, "/api/v1/listeners/inbound/hat", "{\"hostAccessTable\":[\"BLOCKLIST\",\"RELAYLIST\",\"OFFS\",\"PREFS\","
                + "\"REQS\",\"PREFVS\",\"REQVS\",\"REFUSES\",\"LIMITS\",\"PARTNERS\"]}");
        api.ok("POST", 8081, "/api/v1/listeners", "{\"name\":\"tiny\",\"port\":2526,\"hostname\":\"tiny.tlsgate.test\","
                + "\"maxConcurrentConnections\":3,\"maxConnectionsPerClient\":2,\"maxMessageSizeBytes\":1024}");
        api.ok("PUT", 8081, "/api/v1/rat", "{\"domains\":[\"accepted.test\"]}");
        api.ok("POST", 8081, "/api/v1/smtp-routes", "{\"domain\":\"accepted.test\",\"hops\":[\"127.0.0.1:" + inside.port() + "\"]}");
        awaitListeners(Duration.ofSeconds(30));
    }

    @AfterAll
    static void down() throws Exception {
        if (inside != null) {
            inside.close();
        }
        if (api != null) {
            api.close();
        }
        if (dns != null) {
            dns.close();
        }
    }

    /** Greeting, EHLO with every extension, and the replies that need no transaction. */
    @Test
    @Order(1)
    void greetingEhloAndSessionCommands() throws Exception {
        dialogue("127.0.0.1", """
                S: 220 mx.tlsgate.test ESMTP tlsgate
                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: 250-SIZE 65536
                S: 250-PIPELINING
                S: 250-8BITMIME
                S: 250-ENHANCEDSTATUSCODES
                S: 250 STARTTLS
                C: HELO client.test
                S: 250 mx.tlsgate.test
                C: NOOP
                S: 250 2.0.0 Ok
                C: RSET
                S: 250 2.0.0 Ok
                C: RSET now
                S: 501 5.5.4 Syntax: RSET
                C: VRFY postmaster
                S: 502 5.5.1 VRFY command is disabled
                C: EXPN staff
                S: 502 5.5.1 EXPN command is disabled
                C: HELP
                S: 214 2.0.0 See RFC 5321
                C: AUTH PLAIN AGFhAGI=
                S: 502 5.5.1 Error: command not implemented
                C: BDAT 10 LAST
                S: 502 5.5.1 Error: command not implemented
                C: FROBNICATE
                S: 500 5.5.2 Error: command not recognized
                C: EHLO
                S: 501 5.5.4 Syntax: EHLO hostname
                C: HELO
                S: 501 5.5.4 Syntax: HELO hostname
                C: QUIT
                S: 221 2.0.0 Bye
                CLOSED
                """);
    }

    /** Every transaction reply: order, syntax, parameters, the relay check. */
    @Test
    @Order(2)
    void transactionReplies() throws Exception {
        dialogue("127.0.0.1", HELLO + """

                C: MAIL FROM:<a@origin.test>
                S: 503 5.5.1 Error: send HELO/EHLO first
                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: *
                S: *
                S: *
                S: *
                S: 250 STARTTLS
                C: RCPT TO:<b@accepted.test>
                S: 503 5.5.1 Error: need MAIL command
                C: DATA
                S: 503 5.5.1 Error: need MAIL command
                C: MAIL a@origin.test
                S: 501 5.5.4 Syntax: MAIL FROM:<address>
                C: MAIL FROM:<a@@origin..test>
                S: 501 5.1.7 Bad sender address syntax
                C: MAIL FROM:<a@origin.test> SIZE=65537
                S: 552 5.3.4 Error: message size exceeds fixed limit
                C: MAIL FROM:<a@origin.test> FOO=BAR
                S: 555 5.5.4 Unsupported option: FOO
                C: MAIL FROM:<a@origin.test> BODY=BINARYMIME
                S: 555 5.5.4 Unsupported option: BODY=BINARYMIME
                C: MAIL FROM:<a@origin.test> SIZE=100 BODY=8BITMIME
                S: 250 2.1.0 Ok
                C: MAIL FROM:<a@origin.test>
                S: 503 5.5.1 Error: nested MAIL command
                C: DATA
                S: 503 5.5.1 Error: need RCPT command
                C: RCPT b@accepted.test
                S: 501 5.5.4 Syntax: RCPT TO:<address>
                C: RCPT TO:<>
                S: 501 5.1.3 Bad recipient address syntax
                C: RCPT TO:<b@accepted.test> NOTIFY=NEVER
                S: 555 5.5.4 Unsupported option: NOTIFY
                C: RCPT TO:<b@elsewhere.test>
                S: 550 5.7.1 <b@elsewhere.test>: Relay access denied
                C: RCPT TO:<b@[127.0.0.1]>
                S: 550 5.7.1 <b@[127.0.0.1]>: Relay access denied
                C: RCPT TO:<B@Accepted.Test.>
                S: 501 5.1.3 Bad recipient address syntax
                C: RCPT TO:<b@ACCEPTED.test>
                S: 250 2.1.5 Ok
                C: DATA now
                S: 501 5.5.4 Syntax: DATA
                C: RSET
                S: 250 2.0.0 Ok
                C: RCPT TO:<b@accepted.test>
                S: 503 5.5.1 Error: need MAIL command
                C: QUIT
                S: 221 2.0.0 Bye
                """);
    }

    /**
     * A message through the whole path: pipelined MAIL/RCPT/DATA, dot-stuffing, 250 with the
     * MID only after the commit; the queue has it, the internal server gets it with our
     * Received header; the mail log and the outcome event tell the story.
     */
    @Test
    @Order(3)
    void acceptedMessageIsQueuedThenDelivered() throws Exception {
        SmtpDialogue d = dialogue("127.0.0.1", HELLO + """

                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: *
                S: *
                S: *
                S: *
                S: 250 STARTTLS
                C: MAIL FROM:<sender@origin.test>\\r\\nRCPT TO:<one@accepted.test>\\r\\nRCPT TO:<nobody@elsewhere.test>\\r\\nDATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 550 5.7.1 <nobody@elsewhere.test>: Relay access denied
                S: 354 End data with <CR><LF>.<CR><LF>
                C: Subject: through the listener\\r\\nX-Test: accepted\\r\\n\\r\\nline one\\r\\n..a stuffed dot\\r\\n.
                S: 250 2.0.0 Ok: queued as *
                C: QUIT
                S: 221 2.0.0 Bye
                CLOSED
                """);
        String queued = d.transcript().lines().filter(l -> l.startsWith("S: 250 2.0.0 Ok: queued as ")).findFirst().orElseThrow();
        long mid = Long.parseLong(queued.substring("S: 250 2.0.0 Ok: queued as ".length()));
        JsonNode m = api.get(8083, "/api/v1/messages/" + mid);
        assertEquals("sender@origin.test", m.get("mailFrom").asText());
        assertEquals(1, m.get("recipients").size(), "only the accepted recipient: " + m);
        assertEquals("one@accepted.test", m.get("recipients").get(0).get("address").asText());
        long icid = m.get("icid").asLong();
        assertEquals("inbound", m.get("listener").asText());

        ScriptedSmtpPeer.Received got = awaitInside("X-Test: accepted", Duration.ofSeconds(60));
        String content = new String(got.data(), StandardCharsets.UTF_8);
        assertTrue(content.startsWith("Received: from client.test (localhost [127.0.0.1])\r\n\tby mx.tlsgate.test (tlsgate) with ESMTP id "
                + icid + ";\r\n"), content);
        assertTrue(content.endsWith("\r\n\r\nline one\r\n.a stuffed dot\r\n"), "unstuffed once: " + content);

        List<String> log = icidLines(icid);
        assertTrue(log.contains("New SMTP ICID " + icid + " interface inbound (127.0.0.1) address 127.0.0.1 reverse dns host localhost "
                + "verified yes"), log.toString());
        assertTrue(log.contains("ICID " + icid + " ACCEPT SG ALL match ALL"), log.toString());
        assertTrue(log.contains("Start MID " + mid + " ICID " + icid), log.toString());
        assertTrue(log.contains("MID " + mid + " ICID " + icid + " RID 0 To: <one@accepted.test>"), log.toString());
        assertTrue(log.contains("ICID " + icid + " close"), log.toString());
        JsonNode e = outcome(icid);
        assertEquals("plaintext-fallback", e.get("result").asText(), "PREFERRED, the client stayed in plaintext: " + e);
        assertEquals(mid, e.get("mids").get(0).asLong());
        assertEquals("inbound", e.get("listener").asText());
        assertEquals("ALL", e.get("senderGroup").asText());
        assertEquals("PREFERRED", e.get("mode").asText());
    }

    /** Each TLS setting of a mail flow policy, as docs/inbound-policy.md says, with its outcome event. */
    @Test
    @Order(4)
    void everyInboundTlsSetting() throws Exception {
        // OFF: not advertised, STARTTLS refused, mail accepted in plaintext.
        long off = icidOf(dialogue("127.0.3.1", HELLO + """

                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: *
                S: *
                S: *
                S: 250 ENHANCEDSTATUSCODES
                C: STARTTLS
                S: 502 5.5.1 Error: command not implemented
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """));
        assertEquals("not-attempted", outcome(off).get("result").asText());

        // PREFERRED: plaintext fine, except for the TLS-mandatory senders; after TLS they may send.
        long pref = icidOf(dialogue("127.0.3.2", HELLO + """

                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: *
                S: *
                S: *
                S: *
                S: 250 STARTTLS
                C: MAIL FROM:<ceo@bank.test>
                S: 530 5.7.0 Must issue a STARTTLS command first
                C: MAIL FROM:<someone@origin.test>
                S: 250 2.1.0 Ok
                C: RSET
                S: 250 2.0.0 Ok
                C: STARTTLS now
                S: 501 5.5.4 Syntax: STARTTLS
                C: STARTTLS
                S: 220 2.0.0 Ready to start TLS
                TLS
                C: MAIL FROM:<ceo@bank.test>
                S: 503 5.5.1 Error: send HELO/EHLO first
                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: *
                S: *
                S: *
                S: 250 ENHANCEDSTATUSCODES
                C: STARTTLS
                S: 503 5.5.1 Error: TLS already active
                C: MAIL FROM:<ceo@bank.test>
                S: 250 2.1.0 Ok
                C: RCPT TO:<x@accepted.test>
                S: 250 2.1.5 Ok
                C: DATA
                S: 354 *
                C: X-Test: preferred-tls\\r\\n\\r\\nbody\\r\\n.
                S: 250 2.0.0 Ok: queued as *
                C: QUIT
                S: 221 2.0.0 Bye
                """));
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
                C: QUIT
                S: 221 2.0.0 Bye
                """));
        e = outcome(req);
        assertEquals("failure", e.get("result").asText());
        assertEquals("starttls-not-supported", e.get("resultType").asText());
        assertTrue(icidLines(req).contains("ICID " + req + " TLS was required but remote host did not initiate it"));
        long reqTls = icidOf(dialogue("127.0.3.3", HELLO + """

                C: STARTTLS
                S: 220 2.0.0 Ready to start TLS
                TLS
                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: *
                S: *
                S: *
                S: 250 ENHANCEDSTATUSCODES
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """));
        assertEquals("success", outcome(reqTls).get("result").asText());

        // *_VERIFY: a client certificate from a trusted CA, none, one from an unknown CA.
        KeyPair keys = TestPki.ecKeys();
        X509Certificate good = TestPki.issue(root, keys.getPublic(), TestPki.Spec.server("client.partner.test", "client.partner.test"));
        SSLContext withGood = SmtpDialogue.trustAll(TestPki.keyManagers(keys, good, root.certificate()).getKeyManagers());
        TestPki.Issued stranger = TestPki.selfSignedCa("stranger.test", Duration.ofDays(30));
        SSLContext withBad = SmtpDialogue.trustAll(TestPki.keyManagers(stranger.keys(), stranger.certificate()).getKeyManagers());
        String tlsThenMail = HELLO + """

                C: STARTTLS
                S: 220 2.0.0 Ready to start TLS
                TLS
                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: *
                S: *
                S: *
                S: 250 ENHANCEDSTATUSCODES
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """;
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
    @Test
    @Order(5)
    void starttlsCommandInjectionClosesTheConnection() throws Exception {
        long same = icidOf(dialogue("127.0.3.2", HELLO + """

                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: *
                S: *
                S: *
                S: *
                S: 250 STARTTLS
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

    /** The host access table: REJECT, TCPREFUSE, RELAY, forward-confirmed reverse DNS. */
    @Test
    @Order(6)
    void hostAccessTable() throws Exception {
        long rejected = icidOf(dialogue("127.0.3.7", """
                S: 554 5.7.1 mx.tlsgate.test Access denied
                C: EHLO client.test
                S: 503 5.5.1 Error: access denied; only QUIT
                C: MAIL FROM:<a@origin.test>
                S: 503 5.5.1 Error: access denied; only QUIT
                C: QUIT
                S: 221 2.0.0 Bye
                """));
        assertTrue(icidLines(rejected).contains("ICID " + rejected + " REJECT SG BLOCKLIST match 127.0.3.7"));

        try (SmtpDialogue d = SmtpDialogue.connect("127.0.3.8", "127.0.0.1", smtp)) {
            d.expectClosed();
        }

        dialogue("127.0.3.6", HELLO + """

                C: HELO relay.client.test
                S: 250 mx.tlsgate.test
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                C: RCPT TO:<anyone@elsewhere.test>
                S: 250 2.1.5 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """);

        long verified = icidOf(dialogue("127.0.3.10", HELLO + "\nC: QUIT\nS: 221 2.0.0 Bye\n"));
        List<String> v = icidLines(verified);
        assertTrue(v.contains("New SMTP ICID " + verified + " interface inbound (127.0.0.1) address 127.0.3.10 reverse dns host "
                + "mx1.partner.test verified yes"), v.toString());
        assertTrue(v.contains("ICID " + verified + " ACCEPT SG PARTNERS match .partner.test"), v.toString());
        long spoofed = icidOf(dialogue("127.0.3.11", HELLO + "\nC: QUIT\nS: 221 2.0.0 Bye\n"));
        List<String> s = icidLines(spoofed);
        assertTrue(s.contains("New SMTP ICID " + spoofed + " interface inbound (127.0.0.1) address 127.0.3.11 reverse dns host "
                + "mx2.partner.test verified no"), s.toString());
        assertTrue(s.contains("ICID " + spoofed + " ACCEPT SG ALL match ALL"), "an unverified name matches no .domain entry: " + s);
    }

    /** Limits of the flow policy and the listener, line length, errors, idle and session time. */
    @Test
    @Order(7)
    void limits() throws Exception {
        dialogue("127.0.3.9", HELLO + """

                C: HELO client.test
                S: 250 mx.tlsgate.test
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                C: RCPT TO:<one@accepted.test>
                S: 250 2.1.5 Ok
                C: RCPT TO:<two@accepted.test>
                S: 250 2.1.5 Ok
                C: RCPT TO:<three@accepted.test>
                S: 452 4.5.3 Error: too many recipients
                C: DATA
                S: 354 *
                C: X-Test: limits 1\\r\\n\\r\\n.
                S: 250 2.0.0 Ok: queued as *
                C: MAIL FROM:<a@origin.test>\\r\\nRCPT TO:<one@accepted.test>\\r\\nDATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 354 *
                C: X-Test: limits 2\\r\\n\\r\\n.
                S: 250 2.0.0 Ok: queued as *
                C: MAIL FROM:<a@origin.test>
                S: 421 4.7.0 mx.tlsgate.test Error: too many messages in this session
                CLOSED
                """);

        // 512 + 512 octets per command line; a longer one is refused without being kept.
        try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp)) {
            d.run(HELLO);
            d.send("NOOP " + "x".repeat(1017) + "\r\n").expect("250 2.0.0 Ok");
            d.send("NOOP " + "x".repeat(1024 * 1024) + "\r\nNOOP\r\n");
            d.run("""
                    S: 500 5.5.2 Error: line too long
                    S: 250 2.0.0 Ok
                    C: QUIT
                    S: 221 2.0.0 Bye
                    """);
        }

        // Too many errors.
        try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp)) {
            d.run(HELLO);
            d.send("JUNK\r\n".repeat(20));
            for (int i = 0; i < 20; i++) {
                d.expect("500 5.5.2 Error: command not recognized");
            }
            d.run("S: 421 4.7.0 mx.tlsgate.test Error: too many errors\nCLOSED");
        }

        // The tiny listener: 1,024 octets per message, 2 connections per client, 3 in all.
        dialogue("127.0.0.1", tiny, """
                S: 220 tiny.tlsgate.test ESMTP tlsgate
                C: HELO client.test
                S: 250 tiny.tlsgate.test
                C: MAIL FROM:<a@origin.test>\\r\\nRCPT TO:<big@accepted.test>\\r\\nDATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 354 *
                C: X-Test: too big\\r\\n\\r\\n%s\\r\\n.
                S: 552 5.3.4 Error: message size exceeds fixed limit
                C: QUIT
                S: 221 2.0.0 Bye
                CLOSED
                """.formatted("y".repeat(1100)));
        try (SmtpDialogue a = SmtpDialogue.connect("127.0.3.20", "127.0.0.1", tiny);
                SmtpDialogue b = SmtpDialogue.connect("127.0.3.20", "127.0.0.1", tiny)) {
            a.expect("220 *");
            b.expect("220 *");
            try (SmtpDialogue c = SmtpDialogue.connect("127.0.3.20", "127.0.0.1", tiny)) {
                c.run("S: 421 4.7.0 tiny.tlsgate.test Error: too many connections from 127.0.3.20\nCLOSED");
            }
            try (SmtpDialogue c = SmtpDialogue.connect("127.0.3.21", "127.0.0.1", tiny)) {
                c.expect("220 *");
                try (SmtpDialogue over = SmtpDialogue.connect("127.0.3.22", "127.0.0.1", tiny)) {
                    over.run("S: 421 4.7.0 tiny.tlsgate.test Error: too many connections\nCLOSED");
                }
            }
        }

        // Idle for longer than the idle timeout (4 s here).
        try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp)) {
            d.run(HELLO + "\nS: 421 4.4.2 mx.tlsgate.test Error: timeout exceeded\nCLOSED");
        }
        // Busy but endless (slowloris): the session limit (25 s here) ends it.
        try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp)) {
            d.run(HELLO);
            long until = System.nanoTime() + Duration.ofSeconds(40).toNanos();
            String last = "";
            while (System.nanoTime() < until) {
                if (d.socket().getInputStream().available() == 0) {
                    d.send("NOOP\r\n");
                }
                last = d.reply().get(0);
                if (!last.startsWith("250")) {
                    break;
                }
                Thread.sleep(2000);
            }
            assertEquals("421 4.4.2 mx.tlsgate.test Error: session time limit exceeded", last);
            d.expectClosed();
        }
    }

    /** Real clients: swaks --tls and Python's smtplib with starttls() deliver through the listener to the internal server. */
    @Test
    @Order(8)
    void swaksAndSmtplibDeliverOverStarttls() throws Exception {
        String swaks = DebianTools.require("swaks", "swaks");
        DebianTools.requirePackage("libnet-ssleay-perl");
        DebianTools.requirePackage("libio-socket-ssl-perl");
        String python = DebianTools.require("python3", "python3");
        Process p = new ProcessBuilder(swaks, "--server", "127.0.0.1:" + smtp, "--tls", "--ehlo", "swaks.client.test",
                "--from", "swaks@origin.test", "--to", "rcpt@accepted.test", "--header", "X-Test: swaks",
                "--body", "sent by swaks").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), out);
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
        p = new ProcessBuilder(python, "-c", script, String.valueOf(smtp)).redirectErrorStream(true).start();
        out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        ScriptedSmtpPeer.Received byPython = awaitInside("X-Test: smtplib", Duration.ofSeconds(60));
        assertTrue(new String(byPython.data(), StandardCharsets.UTF_8).contains("with ESMTPS id"), "the Received header says TLS");
    }

    /** A new certificate assigned to the listener's slot serves new sessions; an open TLS session goes on untouched. */
    @Test
    @Order(9)
    void certificateRotationKeepsOpenSessions() throws Exception {
        SmtpDialogue open = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp);
        try {
            open.run(HELLO + """

                    C: STARTTLS
                    S: 220 2.0.0 Ready to start TLS
                    TLS
                    """);
            String before = subject(open);
            api.ok("POST", 8082, "/api/v1/certificates", "{\"name\":\"mx-rotated\",\"commonName\":\"" + MX + "\",\"keyType\":\"EC_P256\"}");
            api.ok("PUT", 8082, "/api/v1/assignments/listener:inbound", "{\"certificate\":\"mx-rotated\"}");
            String after = before;
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (after.equals(before) && System.nanoTime() < deadline) {
                SmtpDialogue fresh = dialogue("127.0.0.1", HELLO + """

                        C: STARTTLS
                        S: 220 2.0.0 Ready to start TLS
                        TLS
                        C: QUIT
                        S: 221 2.0.0 Bye
                        """);
                after = subject(fresh);
                Thread.sleep(200);
            }
            assertTrue(after.contains("CN=" + MX), "new sessions get the rotated certificate: " + after + " (before: " + before + ")");
            open.run("""
                    C: EHLO still.open.test
                    S: 250-mx.tlsgate.test
                    S: *
                    S: *
                    S: *
                    S: 250 ENHANCEDSTATUSCODES
                    C: MAIL FROM:<a@origin.test>\\r\\nRCPT TO:<rotation@accepted.test>\\r\\nDATA
                    S: 250 2.1.0 Ok
                    S: 250 2.1.5 Ok
                    S: 354 *
                    C: X-Test: across rotation\\r\\n\\r\\n.
                    S: 250 2.0.0 Ok: queued as *
                    C: QUIT
                    S: 221 2.0.0 Bye
                    """);
            assertEquals(before, subject(open), "the open session kept its certificate");
            JsonNode status = api.get(8084, "/api/v1/smtp/listeners").get(0);
            assertEquals("mx-rotated", status.get("certificate").asText());
            assertEquals(false, status.get("demoCertificate").asBoolean());
        } finally {
            open.close();
        }
    }

    /** delivery-service down: the end of DATA gets 451 4.3.0, never 250; back up, mail is accepted again. */
    @Test
    @Order(10)
    void deliveryDownMeans451() throws Exception {
        stack.service("delivery-service").kill();
        try {
            // The first message may already be streaming when the Enqueue fails (451 after the
            // content), later ones learn at DATA that delivery-service is away (451 at once).
            int atData = 0;
            for (int i = 0; i < 3; i++) {
                try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp)) {
                    d.run(HELLO + """

                            C: HELO client.test
                            S: 250 mx.tlsgate.test
                            C: MAIL FROM:<a@origin.test>\\r\\nRCPT TO:<down@accepted.test>\\r\\nDATA
                            S: 250 2.1.0 Ok
                            S: 250 2.1.5 Ok
                            """);
                    String r = d.reply().get(0);
                    if (r.startsWith("354")) {
                        d.send("X-Test: delivery down\r\n\r\n.\r\n");
                        r = d.reply().get(0);
                    } else {
                        atData++;
                    }
                    assertEquals("451 4.3.0 Error: queue unavailable, message not accepted, try again later", r, d.transcript());
                    d.run("C: QUIT\nS: 221 2.0.0 Bye");
                    long icid = icidOf(d);
                    assertTrue(icidLines(icid).stream().anyMatch(l -> l.startsWith("ICID " + icid + " message not queued: ")),
                            icidLines(icid).toString());
                }
            }
            assertTrue(atData >= 2, "once the connection is known to be down, DATA itself gets 451 (" + atData + " of 3)");
        } finally {
            stack.restart("delivery-service");
        }
        dialogue("127.0.0.1", HELLO + """

                C: HELO client.test
                S: 250 mx.tlsgate.test
                C: MAIL FROM:<a@origin.test>\\r\\nRCPT TO:<up@accepted.test>\\r\\nDATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 354 *
                C: X-Test: delivery up\\r\\n\\r\\n.
                S: 250 2.0.0 Ok: queued as *
                C: QUIT
                S: 221 2.0.0 Bye
                """);
    }

    /**
     * testssl.sh (Debian's) against STARTTLS on the listener: no protocol below TLS 1.2 (SSLv2/3,
     * TLS 1.0/1.1), no weak cipher category, secure renegotiation (RFC 5746) but none initiated
     * by the client (its "Secure Client-Initiated Renegotiation" check, an "R" in openssl s_client
     * over TLS 1.2).
     */
    @Test
    @Order(11)
    void testsslFindsNoOldProtocolsAndNoWeakCiphers() throws Exception {
        String testssl = DebianTools.require("testssl", "testssl.sh");
        Path json = data.resolve("testssl.json");
        Process p = new ProcessBuilder(testssl, "--starttls", "smtp", "--quiet", "--color", "0", "--warnings", "off",
                "--jsonfile", json.toString(), "-p", "-s", "-R", "127.0.0.1:" + smtp).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, java.util.concurrent.TimeUnit.MINUTES), out);
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

    /**
     * 10,000 sessions of junk (binary, 1 MB lines, half-open TLS, early disconnects, resets,
     * command soup, cut DATA) from 16 clients at once, while a well-formed client sends a
     * message every half second: every one of its messages is accepted, and afterwards no
     * session is left behind.
     */
    @Test
    @Order(12)
    void fuzzedSessionsNeverStopTheListener() throws Exception {
        int sessions = Integer.getInteger("tlsgate.fuzz.sessions", 10_000);
        int clients = 16;
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean fuzzing = new java.util.concurrent.atomic.AtomicBoolean(true);
        java.util.concurrent.ConcurrentHashMap<Integer, Integer> kinds = new java.util.concurrent.ConcurrentHashMap<>();
        byte[] clientHello = clientHello();
        long pid = stack.service("listener-service").pid();
        long rssBefore = rssKb(pid);
        java.util.concurrent.atomic.AtomicLong rssPeak = new java.util.concurrent.atomic.AtomicLong(rssBefore);
        List<String> wellFormedFailures = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicInteger wellFormed = new java.util.concurrent.atomic.AtomicInteger();
        Thread good = new Thread(() -> {
            while (fuzzing.get()) {
                int n = wellFormed.incrementAndGet();
                SmtpDialogue d = null;
                try {
                    d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp);
                    d.run(HELLO + """

                            C: EHLO good.client.test
                            S: 250-mx.tlsgate.test
                            S: *
                            S: *
                            S: *
                            S: *
                            S: 250 STARTTLS
                            C: MAIL FROM:<good@origin.test>\\r\\nRCPT TO:<good@accepted.test>\\r\\nDATA
                            S: 250 2.1.0 Ok
                            S: 250 2.1.5 Ok
                            S: 354 *
                            C: X-Test: well-formed %d\\r\\n\\r\\nbody\\r\\n.
                            S: 250 2.0.0 Ok: queued as *
                            C: QUIT
                            S: 221 2.0.0 Bye
                            """.formatted(n));
                } catch (Throwable e) {
                    String log;
                    try {
                        d.close();
                        log = icidLines(icidOf(d)) + "\ndelivery-service:\n" + stack.service("delivery-service").tail(30);
                    } catch (Throwable t) {
                        log = "(no log: " + t + ")";
                    }
                    wellFormedFailures.add(n + ": " + e.getMessage() + "\n" + log);
                } finally {
                    if (d != null) {
                        d.close();
                    }
                }
                rssPeak.accumulateAndGet(rssKb(pid), Math::max);
                sleep(500);
            }
        });
        long notQueuedBefore = api.mailLog("listener-service").stream().filter(l -> l.contains(" message not queued: ")).count();
        long started = System.nanoTime();
        good.start();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(clients);
        List<java.util.concurrent.Future<?>> work = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            String from = "127.0.4." + (c + 1);
            java.util.Random random = new java.util.Random(1000 + c);
            work.add(pool.submit(() -> {
                int i;
                while ((i = next.getAndIncrement()) < sessions) {
                    int kind = random.nextInt(8);
                    kinds.merge(kind, 1, Integer::sum);
                    try {
                        junkSession(from, kind, random, clientHello);
                    } catch (java.io.IOException expected) {
                        // the listener hung up on us: fine
                    }
                }
                return null;
            }));
        }
        for (var w : work) {
            w.get(15, java.util.concurrent.TimeUnit.MINUTES);
        }
        pool.shutdown();
        fuzzing.set(false);
        good.join(60_000);
        long seconds = Duration.ofNanos(System.nanoTime() - started).toSeconds();
        System.out.printf("fuzz: %d sessions in %d s (kinds %s); well-formed messages %d, failed %d; listener RSS %d MB before, "
                + "peak %d MB%n", sessions, seconds, kinds, wellFormed.get(), wellFormedFailures.size(), rssBefore / 1024,
                rssPeak.get() / 1024);
        assertTrue(stack.service("listener-service").isAlive(), "listener-service survived");
        assertTrue(wellFormedFailures.isEmpty(), "the well-formed client was always served: " + wellFormedFailures);
        assertTrue(wellFormed.get() >= 5, "the well-formed client ran during the fuzzing: " + wellFormed.get());
        // 1,200 clients hanging up mid-DATA abandon their Enqueue with an Abort chunk, not a stream
        // reset: resets would trip delivery-service's HTTP/2 rapid-reset guard (GOAWAY), failing
        // every message on the connection, well-formed ones included.
        List<String> notQueued = api.mailLog("listener-service").stream().filter(l -> l.contains(" message not queued: ")).toList();
        assertEquals(notQueuedBefore, notQueued.size(), "no message failed at delivery-service: " + notQueued);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        int open = -1;
        while (System.nanoTime() < deadline && open != 0) {
            open = api.get(8084, "/api/v1/smtp/listeners").get(0).get("connections").asInt();
            sleep(250);
        }
        assertEquals(0, open, "every junk session ended; no connection slot leaked");
        assertTrue(rssPeak.get() < 1024 * 1024, "resident memory stayed bounded (peak " + rssPeak.get() / 1024 + " MB)");
    }

    private static void junkSession(String from, int kind, java.util.Random random, byte[] clientHello) throws java.io.IOException {
        try (java.net.Socket s = new java.net.Socket()) {
            s.bind(new java.net.InetSocketAddress(from, 0));
            s.connect(new java.net.InetSocketAddress("127.0.0.1", smtp), 5000);
            s.setSoTimeout(10_000);
            var out = s.getOutputStream();
            var in = s.getInputStream();
            switch (kind) {
                case 0 -> { // binary junk
                    byte[] junk = new byte[1 + random.nextInt(8192)];
                    random.nextBytes(junk);
                    out.write(junk);
                }
                case 1 -> { // a 1 MB line (every other time only 64 KB), maybe with its end
                    byte[] line = new byte[random.nextBoolean() ? 1 << 20 : 1 << 16];
                    java.util.Arrays.fill(line, (byte) 'A');
                    out.write(line);
                    if (random.nextBoolean()) {
                        out.write("\r\nQUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                    }
                }
                case 2 -> { // half-open TLS: STARTTLS, then part of a ClientHello, then gone
                    readUntil(in, "220 ");
                    out.write("STARTTLS\r\n".getBytes(StandardCharsets.US_ASCII));
                    readUntil(in, "220 2.0.0");
                    out.write(clientHello, 0, 1 + random.nextInt(clientHello.length - 1));
                }
                case 3 -> { // early disconnect, before or after the greeting
                    if (random.nextBoolean()) {
                        readUntil(in, "220 ");
                    }
                }
                case 4 -> { // command soup, some lines LF-only, some with NULs and bad UTF-8
                    StringBuilder b = new StringBuilder();
                    String[] verbs = {"EHLO", "HELO", "MAIL FROM:", "RCPT TO:", "DATA", "RSET", "NOOP", "VRFY", "STARTTLS", "BDAT",
                        "AUTH", "\u0000", "MAIL", "RCPT", "QUIT "};
                    for (int i = 0, n = 1 + random.nextInt(40); i < n; i++) {
                        b.append(verbs[random.nextInt(verbs.length)]).append(random.nextBoolean() ? " <" : "")
                                .append(Long.toString(random.nextLong(), 36)).append(random.nextBoolean() ? "@x.test>" : "")
                                .append(random.nextInt(4) == 0 ? "\n" : "\r\n");
                    }
                    out.write(b.toString().getBytes(StandardCharsets.UTF_8));
                    out.write(new byte[] {(byte) 0xff, (byte) 0xfe, '\r', '\n'});
                }
                case 5 -> { // DATA cut off in the middle
                    out.write("EHLO cut.test\r\nMAIL FROM:<cut@origin.test>\r\nRCPT TO:<cut@accepted.test>\r\nDATA\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
                    readUntil(in, "354 ");
                    out.write(("X-Test: cut\r\n\r\n" + "z".repeat(random.nextInt(20_000))).getBytes(StandardCharsets.US_ASCII));
                }
                case 6 -> { // a reset instead of a close
                    out.write("EHLO reset.test\r\n".getBytes(StandardCharsets.US_ASCII));
                    s.setSoLinger(true, 0);
                }
                default -> { // slow and small: a few bytes at a time
                    for (int i = 0; i < 5; i++) {
                        out.write(("NO").getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    }
                    out.write("OP\r\nQUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                    readUntil(in, "221 ");
                }
            }
            out.flush();
        }
    }

    /** Reads until a line starting with {@code prefix} (or the end). */
    private static void readUntil(java.io.InputStream in, String prefix) throws java.io.IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                if (line.toString().startsWith(prefix)) {
                    return;
                }
                line.setLength(0);
            } else {
                line.append((char) c);
            }
        }
    }

    /** The first flight of a real TLS client, to cut short. */
    private static byte[] clientHello() throws Exception {
        javax.net.ssl.SSLEngine e = SmtpDialogue.trustAll(null).createSSLEngine("127.0.0.1", smtp);
        e.setUseClientMode(true);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(e.getSession().getPacketBufferSize());
        e.beginHandshake();
        e.wrap(java.nio.ByteBuffer.allocate(0), out);
        out.flip();
        byte[] b = new byte[out.remaining()];
        out.get(b);
        return b;
    }

    private static long rssKb(long pid) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("VmRSS:")) {
                    return Long.parseLong(l.replaceAll("\\D", ""));
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Upstreams away: policy-service down means 421 4.3.0 at connect and 451 4.3.0 to a RCPT
     * that needs the RAT; no certificate yet means 454 to STARTTLS; a stopping listener-service
     * says 421 4.3.2 to its open sessions.
     */
    @Test
    @Order(13)
    void upstreamsDown() throws Exception {
        SmtpDialogue open = SmtpDialogue.connect("127.0.3.32", "127.0.0.1", smtp);
        open.run(HELLO + """

                C: HELO client.test
                S: 250 mx.tlsgate.test
                C: MAIL FROM:<a@origin.test>
                S: 250 2.1.0 Ok
                """);
        stack.service("policy-service").kill();
        try {
            Thread.sleep(500);
            open.run("""
                    C: RCPT TO:<someone@never-looked-up.test>
                    S: 451 4.3.0 Error: temporary failure, try again later
                    C: QUIT
                    S: 221 2.0.0 Bye
                    """);
            open.close();
            dialogue("127.0.3.30", """
                    S: 421 4.3.0 mx.tlsgate.test Error: policy temporarily unavailable, try again later
                    CLOSED
                    """);
        } finally {
            open.close();
            stack.restart("policy-service");
        }
        dialogue("127.0.3.30", HELLO + "\nC: QUIT\nS: 221 2.0.0 Bye\n");

        // A fresh listener-service while cert-service is away has no certificate to offer.
        stack.service("cert-service").kill();
        try (SmtpDialogue stopping = SmtpDialogue.connect("127.0.3.33", "127.0.0.1", smtp)) {
            stopping.run(HELLO);
            stack.restart("listener-service");
            stopping.run("S: 421 4.3.2 mx.tlsgate.test Service shutting down\nCLOSED");
            dialogue("127.0.3.31", HELLO + """

                    C: EHLO client.test
                    S: 250-mx.tlsgate.test
                    S: *
                    S: *
                    S: *
                    S: *
                    S: 250 STARTTLS
                    C: STARTTLS
                    S: 454 4.7.0 TLS not available due to temporary reason
                    C: MAIL FROM:<a@origin.test>
                    S: 250 2.1.0 Ok
                    C: QUIT
                    S: 221 2.0.0 Bye
                    """);
        } finally {
            stack.restart("cert-service");
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                dialogue("127.0.3.31", HELLO + """

                        C: STARTTLS
                        S: 220 2.0.0 Ready to start TLS
                        TLS
                        C: QUIT
                        S: 221 2.0.0 Bye
                        """);
                break;
            } catch (AssertionError e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(500);
            }
        }
    }

    /**
     * kill -9 of listener-service while 200 clients send 1,000 messages: every message
     * answered 250 is in delivery-service's queue under the MID the 250 named (its sender
     * says which message it is).
     */
    @Test
    @Order(14)
    void killMinus9DuringConcurrentSendsLosesNothingAcknowledged() throws Exception {
        int clients = 200;
        int each = 5;
        java.util.concurrent.ConcurrentHashMap<String, Long> acknowledged = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            String from = "127.0.5." + (c + 1);
            int client = c;
            Thread t = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int m = 0; m < each; m++) {
                    String sender = "kill-" + client + "-" + m + "@origin.test";
                    try (SmtpDialogue d = SmtpDialogue.connect(from, "127.0.0.1", smtp)) {
                        d.run(HELLO + """

                                C: HELO kill.client.test
                                S: 250 mx.tlsgate.test
                                C: MAIL FROM:<%s>\\r\\nRCPT TO:<kill@accepted.test>\\r\\nDATA
                                S: 250 2.1.0 Ok
                                S: 250 2.1.5 Ok
                                S: 354 *
                                C: X-Test: %s\\r\\n\\r\\nbody\\r\\n.
                                """.formatted(sender, sender));
                        String r = d.reply().get(0);
                        if (r.startsWith("250 2.0.0 Ok: queued as ")) {
                            acknowledged.put(sender, Long.parseLong(r.substring("250 2.0.0 Ok: queued as ".length())));
                        } else {
                            refused.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        refused.incrementAndGet();
                    }
                }
            });
            t.start();
            threads.add(t);
        }
        go.countDown();
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (acknowledged.size() < 250 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        stack.service("listener-service").kill();
        int atKill = acknowledged.size();
        for (Thread t : threads) {
            t.join(120_000);
        }
        System.out.printf("kill -9: %d of %d answered 250 (%d at the kill), %d not%n", acknowledged.size(), clients * each, atKill,
                refused.get());
        assertTrue(atKill >= 250, "killed while sending: " + atKill);
        assertTrue(refused.get() > 0, "some sends were cut off by the kill");
        List<String> lost = new ArrayList<>();
        for (var e : acknowledged.entrySet()) {
            var r = api.send("GET", 8083, "/api/v1/messages/" + e.getValue(), null, null);
            if (r.statusCode() != 200 || !e.getKey().equals(ClusterApi.JSON.readTree(r.body()).get("mailFrom").asText())) {
                lost.add(e.getKey() + " MID " + e.getValue() + ": " + r.statusCode() + " " + r.body());
            }
        }
        assertTrue(lost.isEmpty(), lost.size() + " acknowledged messages are not queued: " + lost);
        stack.restart("listener-service");
        dialogue("127.0.0.1", HELLO + "\nC: QUIT\nS: 221 2.0.0 Bye\n");
    }

    /** delivery-service refuses a message for good (here: over its own size limit): 554 5.6.0 with its reason, nothing queued. */
    @Test
    @Order(15)
    void aMessageDeliveryRefusesGets554() throws Exception {
        dialogue("127.0.0.1", HELLO + """

                C: HELO client.test
                S: 250 mx.tlsgate.test
                C: MAIL FROM:<a@origin.test>\\r\\nRCPT TO:<refused@accepted.test>\\r\\nDATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 354 *
                C: X-Test: refused\\r\\n\\r\\n%s\\r\\n.
                S: 554 5.6.0 Error: message refused: data: larger than 40000 bytes
                C: QUIT
                S: 221 2.0.0 Bye
                """.formatted("r".repeat(50_000)));
    }

    /**
     * A client that pipelines commands and never reads the replies: the listener stops reading
     * once 64 KiB of replies wait (the client's writes block, nothing piles up in memory), and
     * the connection is cut after the idle timeout plus the linger time, freeing its slot.
     */
    @Test
    @Order(16)
    void aClientThatNeverReadsIsCutOffWithoutBuffering() throws Exception {
        java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicReference<Throwable> ended = new java.util.concurrent.atomic.AtomicReference<>();
        java.net.Socket s = new java.net.Socket();
        s.setReceiveBufferSize(4096);
        s.bind(new java.net.InetSocketAddress("127.0.3.40", 0));
        s.connect(new java.net.InetSocketAddress("127.0.0.1", smtp), 5000);
        byte[] noops = "NOOP\r\n".repeat(10_000).getBytes(StandardCharsets.US_ASCII);
        long limit = 200L * 1024 * 1024;
        Thread writer = new Thread(() -> {
            try {
                while (written.get() < limit) {
                    s.getOutputStream().write(noops);
                    written.addAndGet(noops.length);
                }
            } catch (Throwable e) {
                ended.set(e);
            }
        });
        long started = System.nanoTime();
        writer.start();
        writer.join(60_000);
        long seconds = Duration.ofNanos(System.nanoTime() - started).toSeconds();
        s.close();
        System.out.printf("never-reading client: wrote %d KB, cut off after %d s (%s)%n", written.get() / 1024, seconds, ended.get());
        assertTrue(written.get() < 32L * 1024 * 1024, "the listener stopped reading: only " + written.get() / 1024 + " KB went in");
        assertNotNull(ended.get(), "the connection was cut off");
        assertTrue(seconds < 45, "within the idle timeout (4 s) plus the linger time (10 s), not the session limit: " + seconds);
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        int open = -1;
        while (System.nanoTime() < deadline && open != 0) {
            open = api.get(8084, "/api/v1/smtp/listeners").get(0).get("connections").asInt();
            sleep(250);
        }
        assertEquals(0, open, "its connection slot is free again");
    }

    /**
     * No SMTPUTF8 (delivery-service cannot send UTF-8 on yet): not in EHLO, the parameter is
     * unknown (555), and a non-ASCII address without it is refused as RFC 6531 says (553 5.6.7).
     */
    @Test
    @Order(17)
    void noSmtpUtf8() throws Exception {
        dialogue("127.0.0.1", HELLO + """

                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: 250-SIZE 65536
                S: 250-PIPELINING
                S: 250-8BITMIME
                S: 250-ENHANCEDSTATUSCODES
                S: 250 STARTTLS
                C: MAIL FROM:<a@origin.test> SMTPUTF8
                S: 555 5.5.4 Unsupported option: SMTPUTF8
                C: MAIL FROM:<jörg@origin.test> SMTPUTF8
                S: 555 5.5.4 Unsupported option: SMTPUTF8
                C: MAIL FROM:<jörg@origin.test>
                S: 553 5.6.7 Error: non-ASCII addresses are not supported
                C: MAIL FROM:<a@bücher.test>
                S: 553 5.6.7 Error: non-ASCII addresses are not supported
                C: MAIL FROM:<a@origin.test> BODY=8BITMIME
                S: 250 2.1.0 Ok
                C: RCPT TO:<jörg@accepted.test>
                S: 553 5.6.7 Error: non-ASCII addresses are not supported
                C: RCPT TO:<用户@accepted.test>
                S: 553 5.6.7 Error: non-ASCII addresses are not supported
                C: RCPT TO:<b@accepted.test> SMTPUTF8
                S: 555 5.5.4 Unsupported option: SMTPUTF8
                C: RCPT TO:<b@accepted.test>
                S: 250 2.1.5 Ok
                C: QUIT
                S: 221 2.0.0 Bye
                """);
    }

    /**
     * A TLS 1.2 client that starts a second handshake on its STARTTLS session (JSSE's
     * startHandshake() again) is refused: handshake_failure alert, connection closed, and the
     * mail log says so. Before the fix the server renegotiated and answered the next NOOP.
     */
    @Test
    @Order(18)
    void clientInitiatedRenegotiationIsRefused() throws Exception {
        SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp).tls(SmtpDialogue.trustAll("TLSv1.2", null));
        String answer = null;
        Throwable refused = null;
        try {
            d.run(HELLO + """

                    C: STARTTLS
                    S: 220 2.0.0 Ready to start TLS
                    TLS
                    C: NOOP
                    S: 250 2.0.0 Ok
                    """);
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

    /** The SMTP smuggling end-of-data look-alikes: name, what comes before the dot, what after. */
    private static final String[][] SMUGGLING = {
        {"<LF>.<LF>", "\n", "\n"},
        {"<CR>.<CR>", "\r", "\r"},
        {"<LF>.<CR><LF>", "\n", "\r\n"},
        {"<CR><LF>.<LF>", "\r\n", "\n"},
        {"<CR>.<CR><LF>", "\r", "\r\n"},
    };

    /** Commands pipelined after the real end of data (the QUIT ends in a bare LF). */
    private static final String PIPELINED = "MAIL FROM:<after@origin.test>\r\nRCPT TO:<after@accepted.test>\r\nRSET\r\nQUIT\n";

    /** The content of the message seen in the wild: a second message hidden behind a fake end of data. */
    private static String smuggling(String marker, String before, String after) {
        return "X-Test: " + marker + "\r\n\r\nhello" + before + "." + after + "MAIL FROM:<ceo@bank.example>" + after
                + "RCPT TO:<victim@accepted.test>" + after + "DATA" + after + "X-Smuggled: yes" + after + after + "pay now" + before
                + "." + after;
    }

    private static String ehloMailRcptData(String sender) {
        return HELLO + """

                C: EHLO client.test
                S: 250-mx.tlsgate.test
                S: *
                S: *
                S: *
                S: *
                S: 250 STARTTLS
                C: MAIL FROM:<%s>\\r\\nRCPT TO:<smuggle@accepted.test>\\r\\nDATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 354 End data with <CR><LF>.<CR><LF>
                """.formatted(sender);
    }

    /**
     * tlsgate.listener.bare-newline=reject (the default): each smuggling look-alike, with and
     * without commands pipelined after the real end, gets 550 5.5.2 and the connection closed;
     * nothing is queued (the Enqueue ends with an Abort chunk), nothing reaches the internal
     * server, and the mail log says why. A bare LF ending a command line is refused the same way.
     */
    @Test
    @Order(19)
    void bareNewlinesAreRejectedAndNothingIsQueued() throws Exception {
        long before = queuedMessages();
        List<String> markers = new ArrayList<>();
        for (String[] v : SMUGGLING) {
            for (boolean pipelined : new boolean[] {false, true}) {
                String marker = "bare-reject " + v[0] + (pipelined ? " pipelined" : "");
                markers.add(marker);
                String bare = v[1].equals("\r") ? "<CR>" : "<LF>";
                SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp);
                try {
                    d.run(ehloMailRcptData("sender@origin.test"));
                    d.send(smuggling(marker, v[1], v[2]) + "\r\n.\r\n" + (pipelined ? PIPELINED : ""));
                    d.run("S: 550 5.5.2 Error: bare " + bare + " received\nCLOSED");
                } finally {
                    d.close();
                }
                long icid = icidOf(d);
                assertTrue(icidLines(icid).contains("ICID " + icid + " bare " + bare + " received in message content: rejected, "
                        + "message not queued, connection closed"), marker + ": " + icidLines(icid));
                assertTrue(icidLines(icid).stream().noneMatch(l -> l.startsWith("Start MID")), marker + ": " + icidLines(icid));
            }
        }
        SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp);
        try {
            d.run(HELLO + "\nC: HELO client.test\nS: 250 mx.tlsgate.test");
            d.send("MAIL FROM:<a@origin.test>\nRCPT TO:<b@accepted.test>\r\n");
            d.run("S: 550 5.5.2 Error: bare <LF> received\nCLOSED");
        } finally {
            d.close();
        }
        long icid = icidOf(d);
        assertTrue(icidLines(icid).contains("ICID " + icid + " bare <LF> received in a command: rejected, connection closed"),
                icidLines(icid).toString());
        Thread.sleep(2000); // time for a commit or a delivery that should not happen
        assertEquals(before, queuedMessages(), "nothing was queued");
        for (ScriptedSmtpPeer.Received r : inside.received()) {
            String content = new String(r.data(), StandardCharsets.UTF_8);
            assertTrue(markers.stream().noneMatch(content::contains), "delivered: " + content);
        }
    }

    /**
     * tlsgate.listener.bare-newline=normalize (listener-service restarted with it): each
     * smuggling look-alike, with and without pipelined commands, is one message from its real
     * sender, queued once, with the fake end and the hidden commands as content; delivered to the
     * internal server (which, like a lenient Postfix, takes a bare LF or CR as a line end) it is
     * still one message, and no message from the hidden sender ever appears.
     */
    @Test
    @Order(20)
    void bareNewlinesNormalizedWhenConfiguredStillMakeOneMessage() throws Exception {
        stack.restart("listener-service", Map.of("TLSGATE_LISTENER_BARE_NEWLINE", "normalize"));
        try {
            awaitListeners(Duration.ofSeconds(30));
            long before = queuedMessages();
            Map<String, String> senders = new HashMap<>();
            int n = 0;
            for (String[] v : SMUGGLING) {
                for (boolean pipelined : new boolean[] {false, true}) {
                    String marker = "bare-normalize " + v[0] + (pipelined ? " pipelined" : "");
                    String sender = "normalized-" + (++n) + "@origin.test";
                    senders.put(marker, sender);
                    String content = smuggling(marker, v[1], v[2]);
                    long bare = content.replace("\r\n", "").chars().filter(c -> c == '\r' || c == '\n').count();
                    SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp);
                    String queued;
                    try {
                        d.run(ehloMailRcptData(sender));
                        d.send(content + "\r\n.\r\n" + (pipelined ? PIPELINED : ""));
                        queued = d.expect("250 2.0.0 Ok: queued as *");
                        d.run(pipelined ? """
                                S: 250 2.1.0 Ok
                                S: 250 2.1.5 Ok
                                S: 250 2.0.0 Ok
                                S: 221 2.0.0 Bye
                                CLOSED
                                """ : "C: QUIT\nS: 221 2.0.0 Bye\nCLOSED");
                    } finally {
                        d.close();
                    }
                    long mid = Long.parseLong(queued.substring("250 2.0.0 Ok: queued as ".length()));
                    JsonNode m = api.get(8083, "/api/v1/messages/" + mid);
                    assertEquals(sender, m.get("mailFrom").asText(), marker);
                    assertEquals(1, m.get("recipients").size(), marker + ": " + m);
                    assertEquals("smuggle@accepted.test", m.get("recipients").get(0).get("address").asText(), marker);
                    long icid = icidOf(d);
                    List<String> log = icidLines(icid);
                    assertEquals(1, log.stream().filter(l -> l.startsWith("Start MID ")).count(), marker + ": " + log);
                    assertTrue(log.stream().anyMatch(l -> l.matches("MID " + mid + " ICID " + icid + " normalized (\\d+) bare <LF> and "
                            + "(\\d+) bare <CR> to <CR><LF> in the message content") && sum(l) == bare), marker + " (" + bare
                            + " bare): " + log);
                    if (pipelined) {
                        assertTrue(log.contains("ICID " + icid + " normalized 1 bare <LF> and 0 bare <CR> to <CR><LF> in commands"),
                                marker + ": " + log);
                    }
                }
            }
            assertEquals(before + senders.size(), queuedMessages(), "exactly one message per session");
            for (var e : senders.entrySet()) {
                ScriptedSmtpPeer.Received got = awaitInside("X-Test: " + e.getKey(), Duration.ofSeconds(60));
                assertEquals(e.getValue(), got.mailFrom(), e.getKey());
                String content = new String(got.data(), StandardCharsets.UTF_8);
                assertTrue(content.contains("\r\n\r\nhello\r\n.\r\nMAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@accepted.test>\r\n"
                        + "DATA\r\nX-Smuggled: yes\r\n\r\npay now\r\n.\r\n"), "the hidden part arrived as content: " + content);
            }
            assertEquals(senders.size(), inside.received().stream().filter(r -> new String(r.data(), StandardCharsets.UTF_8)
                    .contains("X-Test: bare-normalize ")).count(), "one delivery per message");
            assertTrue(inside.received().stream().noneMatch(r -> r.mailFrom().equals("ceo@bank.example")), "no smuggled message");
        } finally {
            stack.restart("listener-service");
        }
    }

    private static long sum(String normalizedLine) {
        Matcher m = Pattern.compile("(\\d+) bare <LF> and (\\d+) bare <CR>").matcher(normalizedLine);
        return m.find() ? Long.parseLong(m.group(1)) + Long.parseLong(m.group(2)) : -1;
    }

    private static String subject(SmtpDialogue d) throws Exception {
        return ((X509Certificate) d.tlsSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
    }

    // ---- helpers

    private static SmtpDialogue dialogue(String from, String script) throws Exception {
        return dialogue(from, smtp, SmtpDialogue.trustAll(null), script);
    }

    private static SmtpDialogue dialogue(String from, int port, String script) throws Exception {
        return dialogue(from, port, SmtpDialogue.trustAll(null), script);
    }

    private static SmtpDialogue dialogue(String from, SSLContext tls, String script) throws Exception {
        return dialogue(from, smtp, tls, script);
    }

    /** Runs a script from a source address; the connection is closed afterwards (the transcript stays readable). */
    private static SmtpDialogue dialogue(String from, int port, SSLContext tls, String script) throws Exception {
        SmtpDialogue d = SmtpDialogue.connect(from, "127.0.0.1", port).tls(tls);
        try {
            d.run(script);
        } finally {
            d.close();
        }
        return d;
    }

    /**
     * The ICID of a finished dialogue: the newest connection from its source address (the
     * dialogues run one after the other), once the mail log shows it ended.
     */
    private static long icidOf(SmtpDialogue d) throws Exception {
        String ip = d.localAddress().getAddress().getHostAddress();
        Pattern p = Pattern.compile("New SMTP ICID (\\d+) interface \\S+ \\([^)]*\\) address " + Pattern.quote(ip) + " .*");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            List<String> log = api.mailLog("listener-service");
            for (int i = log.size() - 1; i >= 0; i--) {
                Matcher m = p.matcher(log.get(i));
                if (m.matches()) {
                    if (closedLine(log, m.group(1))) {
                        return Long.parseLong(m.group(1));
                    }
                    break;
                }
            }
            Thread.sleep(100);
        }
        fail("no finished ICID for " + ip + "\n" + d.transcript());
        return -1;
    }

    private static boolean closedLine(List<String> log, String icid) {
        return log.contains("ICID " + icid + " close") || log.contains("ICID " + icid + " lost");
    }

    private static List<String> icidLines(long icid) throws Exception {
        Pattern p = Pattern.compile(".*\\bICID " + icid + "\\b.*");
        return api.mailLog("listener-service").stream().filter(l -> p.matcher(l).matches()).toList();
    }

    /** Messages in delivery-service's queue in any state (GET /api/v1/queue). */
    private static long queuedMessages() throws Exception {
        long n = 0;
        for (JsonNode count : api.get(8083, "/api/v1/queue").get("messagesByState")) {
            n += count.asLong();
        }
        return n;
    }

    /** The one outcome event of a connection. */
    private static JsonNode outcome(long icid) throws Exception {
        List<ConsumerRecord<String, byte[]>> rs = KafkaRecords.readUntil(api.kafka(), "tlsgate.tls-outcomes",
                all -> all.stream().anyMatch(r -> icidOf(r) == icid), Duration.ofSeconds(30));
        List<JsonNode> mine = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : rs) {
            if (icidOf(r) == icid) {
                mine.add(ClusterApi.JSON.readTree(r.value()));
            }
        }
        assertEquals(1, mine.size(), "one outcome event for ICID " + icid + ": " + mine);
        return mine.get(0);
    }

    private static long icidOf(ConsumerRecord<String, byte[]> r) {
        try {
            JsonNode n = ClusterApi.JSON.readTree(r.value());
            return "inbound".equals(n.path("direction").asText()) ? n.path("icid").asLong() : -1;
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    private static ScriptedSmtpPeer.Received awaitInside(String marker, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (ScriptedSmtpPeer.Received r : inside.received()) {
                if (new String(r.data(), StandardCharsets.UTF_8).contains(marker + "\r\n")) {
                    return r;
                }
            }
            Thread.sleep(200);
        }
        fail("the internal server never got '" + marker + "'; it has " + inside.received().size() + " messages");
        return null;
    }

    private static void policy(String name, String behaviour, String tls, String more) throws Exception {
        api.ok("POST", 8081, "/api/v1/mail-flow-policies", "{\"name\":\"" + name + "\",\"behaviour\":\"" + behaviour
                + "\",\"tls\":\"" + tls + "\"" + more + "}");
    }

    private static void group(String name, String policy, String sender) throws Exception {
        api.ok("POST", 8081, "/api/v1/sender-groups", "{\"name\":\"" + name + "\",\"policy\":\"" + policy + "\",\"senders\":[\""
                + sender + "\"]}");
    }

    private static void awaitListeners(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode ls = api.get(8084, "/api/v1/smtp/listeners");
            boolean both = false;
            for (JsonNode l : ls) {
                both |= l.get("name").asText().equals("tiny");
            }
            if (both && ls.size() == 2 && ls.get(0).get("hostname").asText().equals(MX)) {
                return;
            }
            Thread.sleep(200);
        }
        fail("listeners not bound: " + api.get(8084, "/api/v1/smtp/listeners"));
    }
}
