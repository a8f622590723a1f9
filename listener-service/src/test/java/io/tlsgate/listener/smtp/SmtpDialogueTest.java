package io.tlsgate.listener.smtp;

import static io.tlsgate.listener.smtp.SmtpTestServer.policy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.platform.tls.TlsEngine;
import io.tlsgate.proto.policy.v1.Behaviour;
import io.tlsgate.proto.policy.v1.InboundTls;
import io.tlsgate.testkit.SmtpDialogue;
import io.tlsgate.testkit.TestPki;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SMTP dialogues against the listener's sessions over real sockets (see {@link SmtpTestServer}):
 * each handler's replies, the order in which policy applies, the mail log lines and the TLS
 * outcome event; STARTTLS on both TLS engines. Each client address in 127.0.0.0/8 stands for a
 * sender group of the host access table.
 */
class SmtpDialogueTest {

    private static final String ACCEPT = "127.0.0.2";
    private static final String RELAY = "127.0.0.3";
    private static final String REJECT = "127.0.0.4";
    private static final String TCPREFUSE = "127.0.0.5";
    private static final String REQUIRED = "127.0.0.6";
    private static final String MANDATORY = "127.0.0.7";
    private static final String VERIFY = "127.0.0.8";
    private static final String OFF = "127.0.0.9";
    private static final String NO_POLICY = "127.0.0.10";

    /** Greeting, HELO and its reply. */
    private static final String HELO_DONE = """
            S: 220 *
            C: HELO client.example.net
            S: 250 *
            """;

    /** EHLO and its reply where STARTTLS is offered (six lines, STARTTLS last). */
    private static final String EHLO_OFFERING_STARTTLS = """
            C: EHLO client.example.net
            S: 250-*
            S: 250-*
            S: 250-*
            S: 250-*
            S: 250-*
            S: 250 STARTTLS
            """;

    private static final List<String> maillog = new CopyOnWriteArrayList<>();
    private static final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            maillog.add(r.getMessage() == null ? "" : r.getParameters() == null ? r.getMessage()
                    : String.format(r.getMessage(), r.getParameters()));
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    private static SmtpTestServer openssl;
    private static SmtpTestServer jdk;

    @BeforeAll
    static void start() throws Exception {
        java.util.logging.Logger.getLogger("io.tlsgate.maillog").addHandler(capture);
        openssl = server(TlsEngine.OPENSSL);
        jdk = server(TlsEngine.JDK);
    }

    private static SmtpTestServer server(TlsEngine engine) throws Exception {
        SmtpTestServer s = new SmtpTestServer(engine, 5);
        s.dns.ptr(ACCEPT, "client.example.net").address("client.example.net", ACCEPT);
        s.dns.ptr(RELAY, "spoofed.example.org"); // no A record back: not forward-confirmed
        s.hat.put(ACCEPT, policy("ACCEPTLIST", Behaviour.ACCEPT, InboundTls.TLS_PREFERRED));
        s.hat.put(RELAY, policy("RELAYLIST", Behaviour.RELAY, InboundTls.TLS_PREFERRED));
        s.hat.put(REJECT, policy("BLOCKLIST", Behaviour.REJECT, InboundTls.OFF));
        s.hat.put(TCPREFUSE, policy("REFUSED", Behaviour.TCPREFUSE, InboundTls.OFF));
        s.hat.put(REQUIRED, policy("PARTNERS", Behaviour.ACCEPT, InboundTls.TLS_REQUIRED));
        s.hat.put(MANDATORY, policy("MIXED", Behaviour.ACCEPT, InboundTls.TLS_PREFERRED, "@secure.example.com", "not a pattern@@"));
        s.hat.put(VERIFY, policy("VERIFIED", Behaviour.RELAY, InboundTls.TLS_REQUIRED_VERIFY));
        s.hat.put(OFF, policy("PLAIN", Behaviour.ACCEPT, InboundTls.OFF));
        s.rat.add("example.com");
        return s;
    }

    @AfterAll
    static void stop() throws Exception {
        java.util.logging.Logger.getLogger("io.tlsgate.maillog").removeHandler(capture);
        openssl.close();
        jdk.close();
    }

    private static String logged(String pattern) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            for (String line : maillog) {
                if (line.matches(pattern)) {
                    return line;
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no mail log line matches " + pattern + " in\n" + String.join("\n", maillog));
    }

    // ---- connection phase and greeting

    @Test
    void greetingNamesTheListenerAndTheVerifiedReverseDnsNameIsLogged() throws Exception {
        try (SmtpDialogue c = openssl.connect(ACCEPT)) {
            c.run("""
                    S: 220 mx.listener.test ESMTP tlsgate
                    C: EHLO client.example.net
                    S: 250-mx.listener.test
                    S: 250-SIZE 10000
                    S: 250-PIPELINING
                    S: 250-8BITMIME
                    S: 250-ENHANCEDSTATUSCODES
                    S: 250 STARTTLS
                    C: HELO again.example.net
                    S: 250 mx.listener.test
                    C: EHLO
                    S: 501 5.5.4 Syntax: EHLO hostname
                    C: QUIT
                    S: 221 2.0.0 Bye
                    CLOSED
                    """);
            Object icid = openssl.outcome(c).get("icid");
            logged("New SMTP ICID " + icid + " interface test \\(127.0.0.1\\) address 127.0.0.2 reverse dns host "
                    + "client.example.net verified yes");
            logged("ICID " + icid + " ACCEPT SG ACCEPTLIST match 127.0.0.0/8");
            logged("ICID " + icid + " close");
        }
    }

    @Test
    void aPtrNameThatDoesNotResolveBackIsNotVerified() throws Exception {
        try (SmtpDialogue c = openssl.connect(RELAY)) {
            c.run("""
                    S: 220 *
                    C: QUIT
                    S: 221 *
                    """);
            Map<String, Object> o = openssl.outcome(c);
            assertEquals("spoofed.example.org", o.get("peerHost"));
            assertEquals(false, o.get("peerHostVerified"));
        }
    }

    @Test
    void aRejectedClientHears554AndMayOnlyQuit() throws Exception {
        try (SmtpDialogue c = openssl.connect(REJECT)) {
            c.run("""
                    S: 554 5.7.1 mx.listener.test Access denied
                    C: EHLO client.example.net
                    S: 503 5.5.1 Error: access denied; only QUIT
                    C: MAIL FROM:<a@example.net>
                    S: 503 5.5.1 Error: access denied; only QUIT
                    C: QUIT
                    S: 221 2.0.0 Bye
                    CLOSED
                    """);
        }
    }

    @Test
    void tcpRefuseClosesWithoutAWordAndWithoutAnOutcome() throws Exception {
        try (SmtpDialogue c = openssl.connect(TCPREFUSE)) {
            c.expectClosed();
            logged("ICID \\d+ TCPREFUSE SG REFUSED match 127.0.0.0/8");
        }
        assertTrue(openssl.outcomes.stream().noneMatch(o -> o.connection().peerIp().equals(TCPREFUSE)), "no outcome for a refused connection");
    }

    @Test
    void whenTheHostAccessTableCannotBeAskedTheClientHears421() throws Exception {
        try (SmtpDialogue c = openssl.connect(NO_POLICY)) {
            c.run("""
                    S: 421 4.3.0 mx.listener.test Error: policy temporarily unavailable, try again later
                    CLOSED
                    """);
            logged("ICID \\d+ policy lookup failed: UNAVAILABLE: policy-service away");
        }
    }

    // ---- MAIL, RCPT, DATA

    @Test
    void mailChecksItsOrderParametersAndAddress() throws Exception {
        try (SmtpDialogue c = openssl.connect(ACCEPT)) {
            c.run("""
                    S: 220 *
                    C: MAIL FROM:<a@example.net>
                    S: 503 5.5.1 Error: send HELO/EHLO first
                    """ + EHLO_OFFERING_STARTTLS + """
                    C: MAIL FROM:<a@example.net> SIZE=10001
                    S: 552 5.3.4 Error: message size exceeds fixed limit
                    C: MAIL FROM:<a@example.net> BODY=BINARYMIME
                    S: 555 5.5.4 Unsupported option: BODY=BINARYMIME
                    C: MAIL FROM:<a@exämple.net>
                    S: 553 5.6.7 Error: non-ASCII addresses are not supported
                    C: MAIL FROM:<a@example.net> SIZE=9000 BODY=8BITMIME
                    S: 250 2.1.0 Ok
                    """);
        }
        try (SmtpDialogue c = openssl.connect(ACCEPT)) {
            c.run(HELO_DONE + """
                    C: MAIL FROM:<>
                    S: 250 2.1.0 Ok
                    C: MAIL FROM:<b@example.net>
                    S: 503 5.5.1 Error: nested MAIL command
                    C: RSET
                    S: 250 2.0.0 Ok
                    C: RCPT TO:<x@example.com>
                    S: 503 5.5.1 Error: need MAIL command
                    """);
        }
    }

    /** RFC 8689: REQUIRETLS is offered and taken only once TLS is on, and it has no value. */
    @Test
    void requireTlsOnlyOverTls() throws Exception {
        try (SmtpDialogue c = openssl.connect(ACCEPT)) {
            c.run("""
                    S: 220 *
                    """ + EHLO_OFFERING_STARTTLS + """
                    C: MAIL FROM:<a@example.net> REQUIRETLS
                    S: 555 5.5.4 Unsupported option: REQUIRETLS
                    C: STARTTLS
                    S: 220 *
                    TLS
                    C: EHLO client.example.net
                    S: 250-*
                    S: 250-*
                    S: 250-*
                    S: 250-*
                    S: 250-ENHANCEDSTATUSCODES
                    S: 250 REQUIRETLS
                    C: MAIL FROM:<a@example.net> REQUIRETLS=yes
                    S: 555 5.5.4 Unsupported option: REQUIRETLS=yes
                    C: MAIL FROM:<a@example.net> requiretls
                    S: 250 2.1.0 Ok
                    C: QUIT
                    S: 221 *
                    """);
        }
    }

    @Test
    void heloClientsMayNotUseEsmtpParameters() throws Exception {
        try (SmtpDialogue c = openssl.connect(ACCEPT)) {
            c.run("""
                    S: 220 *
                    C: HELO client.example.net
                    S: 250 mx.listener.test
                    C: MAIL FROM:<a@example.net> SIZE=10
                    S: 555 5.5.4 Unsupported option: SIZE
                    """);
        }
    }

    @Test
    void recipientsOutsideTheRecipientAccessTableAreRelayDenied() throws Exception {
        try (SmtpDialogue c = openssl.connect(ACCEPT)) {
            c.run(HELO_DONE + """
                    C: MAIL FROM:<a@example.net>
                    S: 250 2.1.0 Ok
                    C: RCPT TO:<one@EXAMPLE.com>
                    S: 250 2.1.5 Ok
                    C: RCPT TO:<victim@elsewhere.example>
                    S: 550 5.7.1 <victim@elsewhere.example>: Relay access denied
                    C: RCPT TO:<root@[192.0.2.1]>
                    S: 550 5.7.1 <root@[192.0.2.1]>: Relay access denied
                    C: RCPT TO:<x@fail.example>
                    S: 451 4.3.0 Error: temporary failure, try again later
                    C: RCPT TO:<two@example.com> NOTIFY=NEVER
                    S: 555 5.5.4 Unsupported option: NOTIFY
                    C: RCPT TO:<two@example.com>
                    S: 250 2.1.5 Ok
                    C: RCPT TO:<three@example.com>
                    S: 250 2.1.5 Ok
                    C: RCPT TO:<four@example.com>
                    S: 452 4.5.3 Error: too many recipients
                    """);
            logged("ICID \\d+ RID 1 rejected <victim@elsewhere.example>: relay access denied \\(not in the RAT\\)");
            logged("ICID \\d+ recipient <x@fail.example>: RAT lookup failed: DEADLINE_EXCEEDED: no answer");
        }
    }

    @Test
    void aRelayClientMaySendAnywhere() throws Exception {
        try (SmtpDialogue c = openssl.connect(RELAY)) {
            c.run(HELO_DONE + """
                    C: MAIL FROM:<a@example.net>\\r\\nRCPT TO:<someone@elsewhere.example>\\r\\nRCPT TO:<x@[192.0.2.1]>
                    S: 250 2.1.0 Ok
                    S: 250 2.1.5 Ok
                    S: 250 2.1.5 Ok
                    """);
        }
    }

    @Test
    void dataNeedsRecipientsAndIsRefusedWith451WhileDeliveryServiceIsAway() throws Exception {
        try (SmtpDialogue c = openssl.connect(ACCEPT)) {
            c.run(HELO_DONE + """
                    C: DATA
                    S: 503 5.5.1 Error: need MAIL command
                    C: MAIL FROM:<a@example.net>
                    S: 250 *
                    C: DATA
                    S: 503 5.5.1 Error: need RCPT command
                    C: RCPT TO:<one@example.com>
                    S: 250 *
                    C: DATA now
                    S: 501 5.5.4 Syntax: DATA
                    C: DATA
                    S: 451 4.3.0 Error: queue unavailable, message not accepted, try again later
                    C: RCPT TO:<one@example.com>
                    S: 503 5.5.1 Error: need MAIL command
                    """);
            logged("ICID \\d+ message not queued: delivery-service unavailable \\(UNAVAILABLE: delivery-service away\\)");
        }
    }

    @Test
    void otherCommandsAndTooManyErrors() throws Exception {
        try (SmtpDialogue c = openssl.connect(ACCEPT)) {
            c.run("""
                    S: 220 *
                    C: NOOP
                    S: 250 2.0.0 Ok
                    C: VRFY root
                    S: 502 5.5.1 VRFY command is disabled
                    C: EXPN staff
                    S: 502 5.5.1 EXPN command is disabled
                    C: HELP
                    S: 214 2.0.0 See RFC 5321
                    C: RSET now
                    S: 501 5.5.4 Syntax: RSET
                    C: AUTH PLAIN
                    S: 502 5.5.1 Error: command not implemented
                    C: BDAT 10 LAST
                    S: 502 5.5.1 Error: command not implemented
                    C: XYZZY
                    S: 500 5.5.2 Error: command not recognized
                    C: EHLO
                    S: 501 *
                    S: 421 4.7.0 mx.listener.test Error: too many errors
                    CLOSED
                    """);
            logged("ICID \\d+ too many errors \\(5\\)");
        }
    }

    @Test
    void aBareLineFeedEndsTheSessionWith550() throws Exception {
        try (SmtpDialogue c = openssl.connect(ACCEPT)) {
            c.expect("220 *");
            c.send("NOOP\nNOOP\r\n");
            c.run("""
                    S: 550 5.5.2 Error: bare <LF> received
                    CLOSED
                    """);
            logged("ICID \\d+ bare <LF> received in a command: rejected, connection closed");
        }
    }

    // ---- TLS policy and STARTTLS, on both engines

    @ParameterizedTest
    @EnumSource(TlsEngine.class)
    void requiredTlsRefusesMailUntilStartTlsAndTheOutcomeNamesTheSession(TlsEngine engine) throws Exception {
        SmtpTestServer server = engine == TlsEngine.OPENSSL ? openssl : jdk;
        try (SmtpDialogue c = server.connect(REQUIRED)) {
            c.run("""
                    S: 220 *
                    """ + EHLO_OFFERING_STARTTLS + """
                    C: MAIL FROM:<a@example.net>
                    S: 530 5.7.0 Must issue a STARTTLS command first
                    C: RCPT TO:<a@example.com>
                    S: 530 5.7.0 Must issue a STARTTLS command first
                    C: STARTTLS
                    S: 220 2.0.0 Ready to start TLS
                    TLS
                    C: MAIL FROM:<a@example.net>
                    S: 503 5.5.1 Error: send HELO/EHLO first
                    C: EHLO client.example.net
                    S: 250-mx.listener.test
                    S: 250-SIZE 10000
                    S: 250-PIPELINING
                    S: 250-8BITMIME
                    S: 250-ENHANCEDSTATUSCODES
                    S: 250 REQUIRETLS
                    C: STARTTLS
                    S: 503 5.5.1 Error: TLS already active
                    C: MAIL FROM:<a@example.net> REQUIRETLS
                    S: 250 2.1.0 Ok
                    C: QUIT
                    S: 221 *
                    """);
            String protocol = c.tlsSession().getProtocol();
            Map<String, Object> o = server.outcome(c);
            assertEquals("success", o.get("result"));
            assertEquals("REQUIRED", o.get("mode"));
            assertEquals(protocol, o.get("protocol"));
            assertNull(o.get("resultType"));
            long required = maillog.stream().filter(l -> l.equals("ICID " + o.get("icid") + " TLS was required but remote host did not initiate it"))
                    .count();
            assertEquals(1, required, "logged once per connection");
            logged("ICID " + o.get("icid") + " TLS success protocol " + protocol + " cipher .*");
        }
    }

    @ParameterizedTest
    @EnumSource(TlsEngine.class)
    void commandsPipelinedBehindStartTlsAreNeverTakenAsEncrypted(TlsEngine engine) throws Exception {
        SmtpTestServer server = engine == TlsEngine.OPENSSL ? openssl : jdk;
        try (SmtpDialogue c = server.connect(ACCEPT)) {
            c.run("""
                    S: 220 *
                    """ + EHLO_OFFERING_STARTTLS + """
                    C: STARTTLS\\r\\nMAIL FROM:<injected@example.net>
                    S: 220 2.0.0 Ready to start TLS
                    CLOSED
                    """);
            Map<String, Object> o = server.outcome(c);
            assertEquals("failure", o.get("result"));
            assertEquals("validation-failure", o.get("resultType"));
            assertTrue(((String) o.get("reason")).startsWith("command injection: "), o.toString());
        }
    }

    @ParameterizedTest
    @EnumSource(TlsEngine.class)
    void requiredVerifyNeedsATrustedClientCertificate(TlsEngine engine) throws Exception {
        SmtpTestServer server = engine == TlsEngine.OPENSSL ? openssl : jdk;
        TestPki.Issued ca = TestPki.selfSignedCa("partner CA " + engine, Duration.ofDays(1));
        var keys = TestPki.ecKeys();
        var cert = TestPki.issue(ca, keys.getPublic(), TestPki.Spec.server("relay.partner.example", "relay.partner.example"));
        var clientKeys = TestPki.keyManagers(keys, cert, ca.certificate()).getKeyManagers();
        String script = """
                S: 220 *
                """ + EHLO_OFFERING_STARTTLS + """
                C: STARTTLS
                S: 220 *
                """;
        try (SmtpDialogue c = server.connect(VERIFY)) {
            c.tls(SmtpDialogue.trustAll(clientKeys)).run(script + "TLS fails");
            Map<String, Object> o = server.outcome(c);
            assertEquals("failure", o.get("result"), "a certificate of an unknown CA");
            assertEquals("failure", o.get("verification"));
        }
        server.trust.operatorCas(List.of(ca.certificate()));
        try (SmtpDialogue c = server.connect(VERIFY)) {
            c.tls(SmtpDialogue.trustAll(clientKeys)).run(script + """
                    TLS
                    C: EHLO client.example.net
                    S: 250-*
                    S: 250-*
                    S: 250-*
                    S: 250-*
                    S: 250-ENHANCEDSTATUSCODES
                    S: 250 REQUIRETLS
                    C: QUIT
                    S: 221 *
                    """);
            Map<String, Object> o = server.outcome(c);
            assertEquals("success", o.get("result"));
            assertEquals("success", o.get("verification"));
            assertEquals("CN=relay.partner.example,O=tlsgate tests", o.get("clientCertificate"));
        } finally {
            server.trust.operatorCas(List.of());
        }
        try (SmtpDialogue c = server.connect(VERIFY)) {
            c.tls(SmtpDialogue.trustAll(null)).run(script + "TLS fails");
            Map<String, Object> o = server.outcome(c);
            assertEquals("failure", o.get("result"), "no client certificate");
        }
    }

    @Test
    void mandatoryTlsSendersAreRefusedInPlaintextAndOthersAreNot() throws Exception {
        try (SmtpDialogue c = openssl.connect(MANDATORY)) {
            c.run(HELO_DONE + """
                    C: MAIL FROM:<ceo@secure.example.com>
                    S: 530 5.7.0 Must issue a STARTTLS command first
                    C: MAIL FROM:<ceo@example.com>
                    S: 250 2.1.0 Ok
                    C: QUIT
                    S: 221 *
                    """);
            assertEquals("plaintext-fallback", openssl.outcome(c).get("result"));
            logged("ICID \\d+ sender <ceo@secure.example.com> must use TLS: refused on a plaintext connection");
        }
    }

    @Test
    void startTlsIsNotOfferedWhereThePolicySaysOffAndIs454WithoutACertificate() throws Exception {
        try (SmtpDialogue c = jdk.connect(OFF)) {
            c.run("""
                    S: 220 *
                    C: EHLO client.example.net
                    S: 250-*
                    S: 250-*
                    S: 250-*
                    S: 250-*
                    S: 250 ENHANCEDSTATUSCODES
                    C: STARTTLS
                    S: 502 5.5.1 Error: command not implemented
                    C: QUIT
                    S: 221 *
                    """);
            assertEquals("not-attempted", jdk.outcome(c).get("result"));
        }
        try (SmtpTestServer bare = new SmtpTestServer(TlsEngine.JDK, 5)) {
            bare.hat.put(ACCEPT, policy("ACCEPTLIST", Behaviour.ACCEPT, InboundTls.TLS_PREFERRED));
            bare.noCertificate();
            try (SmtpDialogue c = bare.connect(ACCEPT)) {
                c.run("""
                        S: 220 *
                        C: STARTTLS x
                        S: 501 5.5.4 Syntax: STARTTLS
                        C: STARTTLS
                        S: 454 4.7.0 TLS not available due to temporary reason
                        C: QUIT
                        S: 221 *
                        """);
            }
        }
    }
}
