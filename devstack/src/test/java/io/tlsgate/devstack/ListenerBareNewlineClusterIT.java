package io.tlsgate.devstack;

import static io.tlsgate.devstack.ListenerCluster.EHLO;
import static io.tlsgate.devstack.ListenerCluster.HELLO;
import static io.tlsgate.devstack.ListenerCluster.HELO;
import static io.tlsgate.devstack.ListenerCluster.QUIT;
import static io.tlsgate.devstack.ListenerCluster.awaitInside;
import static io.tlsgate.devstack.ListenerCluster.icidLines;
import static io.tlsgate.devstack.ListenerCluster.icidOf;
import static io.tlsgate.devstack.ListenerCluster.inside;
import static io.tlsgate.devstack.ListenerCluster.mailRcpt;
import static io.tlsgate.devstack.ListenerCluster.message;
import static io.tlsgate.devstack.ListenerCluster.queuedMessages;
import static io.tlsgate.devstack.ListenerCluster.queuedMid;
import static io.tlsgate.devstack.ListenerCluster.restartListenerService;
import static io.tlsgate.devstack.ListenerCluster.smtp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.SmtpDialogue;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Bare CR and LF in the {@link ListenerCluster}: the SMTP smuggling look-alikes of an end of
 * data, refused by listener-service's default and made one message when it normalizes them.
 */
@ExtendWith(ListenerCluster.Shared.class)
class ListenerBareNewlineClusterIT {

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
        return HELLO + EHLO + mailRcpt(sender, "smuggle@accepted.test") + "S: 354 End data with <CR><LF>.<CR><LF>\n";
    }

    /**
     * tlsgate.listener.bare-newline=reject (the default): each smuggling look-alike, with and
     * without commands pipelined after the real end, gets 550 5.5.2 and the connection closed;
     * nothing is queued (the Enqueue ends with an Abort chunk), nothing reaches the internal
     * server, and the mail log says why. A bare LF ending a command line is refused the same way.
     */
    @Test
    void bareNewlinesAreRejectedAndNothingIsQueued() throws Exception {
        long before = queuedMessages();
        List<String> markers = new ArrayList<>();
        for (String[] v : SMUGGLING) {
            for (boolean pipelined : new boolean[] {false, true}) {
                String marker = "bare-reject " + v[0] + (pipelined ? " pipelined" : "");
                markers.add(marker);
                String bare = v[1].equals("\r") ? "<CR>" : "<LF>";
                SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp());
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
        SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp());
        try {
            d.run(HELLO + HELO);
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
        for (ScriptedSmtpPeer.Received r : inside().received()) {
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
    void bareNewlinesNormalizedWhenConfiguredStillMakeOneMessage() throws Exception {
        try {
            restartListenerService(Map.of("TLSGATE_LISTENER_BARE_NEWLINE", "normalize"));
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
                    SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp());
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
                                """ : QUIT + "CLOSED\n");
                    } finally {
                        d.close();
                    }
                    long mid = queuedMid(queued);
                    JsonNode m = message(mid);
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
            assertEquals(senders.size(), inside().received().stream().filter(r -> new String(r.data(), StandardCharsets.UTF_8)
                    .contains("X-Test: bare-normalize ")).count(), "one delivery per message");
            assertTrue(inside().received().stream().noneMatch(r -> r.mailFrom().equals("ceo@bank.example")), "no smuggled message");
        } finally {
            restartListenerService(Map.of());
        }
    }

    private static long sum(String normalizedLine) {
        Matcher m = Pattern.compile("(\\d+) bare <LF> and (\\d+) bare <CR>").matcher(normalizedLine);
        return m.find() ? Long.parseLong(m.group(1)) + Long.parseLong(m.group(2)) : -1;
    }
}
