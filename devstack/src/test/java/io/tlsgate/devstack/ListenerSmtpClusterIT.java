package io.tlsgate.devstack;

import static io.tlsgate.devstack.ListenerCluster.EHLO;
import static io.tlsgate.devstack.ListenerCluster.HELLO;
import static io.tlsgate.devstack.ListenerCluster.HELO;
import static io.tlsgate.devstack.ListenerCluster.QUEUED;
import static io.tlsgate.devstack.ListenerCluster.QUIT;
import static io.tlsgate.devstack.ListenerCluster.awaitInside;
import static io.tlsgate.devstack.ListenerCluster.dialogue;
import static io.tlsgate.devstack.ListenerCluster.icidLines;
import static io.tlsgate.devstack.ListenerCluster.message;
import static io.tlsgate.devstack.ListenerCluster.mailRcptData;
import static io.tlsgate.devstack.ListenerCluster.outcome;
import static io.tlsgate.devstack.ListenerCluster.queuedMid;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.SmtpDialogue;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * listener-service's SMTP dialogue in the {@link ListenerCluster}: the replies to every command
 * in and out of a transaction, what it does not support, and a message on its way through the
 * queue to the internal server, or refused by delivery-service.
 */
@ExtendWith(ListenerCluster.Shared.class)
class ListenerSmtpClusterIT {

    /** EHLO with every extension named. */
    private static final String EHLO_IN_FULL = """
            C: EHLO client.test
            S: 250-mx.tlsgate.test
            S: 250-SIZE 65536
            S: 250-PIPELINING
            S: 250-8BITMIME
            S: 250-ENHANCEDSTATUSCODES
            S: 250 STARTTLS
            """;

    /** Greeting, EHLO with every extension, and the replies that need no transaction. */
    @Test
    void greetingEhloAndSessionCommands() throws Exception {
        dialogue("127.0.0.1", HELLO + EHLO_IN_FULL + HELO + """
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
                """ + QUIT + "CLOSED\n");
    }

    /** Every transaction reply: order, syntax, parameters, the relay check. */
    @Test
    void transactionReplies() throws Exception {
        dialogue("127.0.0.1", HELLO + """
                C: MAIL FROM:<a@origin.test>
                S: 503 5.5.1 Error: send HELO/EHLO first
                """ + EHLO + """
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
                """ + QUIT);
    }

    /**
     * No SMTPUTF8 (delivery-service cannot send UTF-8 on yet): not in EHLO, the parameter is
     * unknown (555), and a non-ASCII address without it is refused as RFC 6531 says (553 5.6.7).
     */
    @Test
    void noSmtpUtf8() throws Exception {
        dialogue("127.0.0.1", HELLO + EHLO_IN_FULL + """
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
                """ + QUIT);
    }

    /**
     * A message through the whole path: pipelined MAIL/RCPT/DATA, dot-stuffing, 250 with the
     * MID only after the commit; the queue has it, the internal server gets it with our
     * Received header; the mail log and the outcome event tell the story.
     */
    @Test
    void acceptedMessageIsQueuedThenDelivered() throws Exception {
        SmtpDialogue d = dialogue("127.0.0.1", HELLO + EHLO + """
                C: MAIL FROM:<sender@origin.test>\\r\\nRCPT TO:<one@accepted.test>\\r\\nRCPT TO:<nobody@elsewhere.test>\\r\\nDATA
                S: 250 2.1.0 Ok
                S: 250 2.1.5 Ok
                S: 550 5.7.1 <nobody@elsewhere.test>: Relay access denied
                S: 354 End data with <CR><LF>.<CR><LF>
                C: Subject: through the listener\\r\\nX-Test: accepted\\r\\n\\r\\nline one\\r\\n..a stuffed dot\\r\\n.
                """ + QUEUED + QUIT + "CLOSED\n");
        String queued = d.transcript().lines().filter(l -> l.startsWith("S: 250 2.0.0 Ok: queued as ")).findFirst().orElseThrow();
        long mid = queuedMid(queued);
        JsonNode m = message(mid);
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

    /** delivery-service refuses a message for good (here: over its own size limit): 554 5.6.0 with its reason, nothing queued. */
    @Test
    void aMessageDeliveryRefusesGets554() throws Exception {
        dialogue("127.0.0.1", HELLO + HELO + mailRcptData("a@origin.test", "refused@accepted.test") + """
                C: X-Test: refused\\r\\n\\r\\n%s\\r\\n.
                S: 554 5.6.0 Error: message refused: data: larger than 40000 bytes
                """.formatted("r".repeat(50_000)) + QUIT);
    }
}
