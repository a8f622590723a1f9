package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.PostfixPeer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SMTP smuggling through the whole mail path, with the real Debian Postfix as the downstream
 * peer: a client sends one message to listener-service whose content holds a dot line ended
 * by a bare CR or LF (and, in the "pipelined" cases, a second SMTP transaction from
 * {@value #SMUGGLED_SENDER} after it); delivery-service relays it over an SMTP route to a
 * private Postfix that, like Debian's stock configuration ({@code smtpd_forbid_bare_newline =
 * no}), takes a bare LF as a line end. The only acceptable outcomes are: the listener rejects
 * the message (5xx, nothing queued at delivery-service, nothing at Postfix), or Postfix queues
 * exactly one message, from {@value #SENDER}, whole. Never a message from the smuggled sender,
 * never two.
 *
 * <p>The control sends the same bytes straight to Postfix: there the {@code <LF>.<LF>} payload
 * makes two messages, which proves the peer is lenient enough for the test to mean something.
 *
 * <p>Two fixes stop the attack: the listener refusing (or normalizing) bare CR/LF, and the
 * outbound writer sending only CRLF line ends with every line start dot-stuffed. By default the
 * stack runs with the listener's own default; {@code -Dtlsgate.it.bare-newline=normalize} (or
 * the environment variable {@code TLSGATE_IT_BARE_NEWLINE}) starts listener-service with
 * {@value #LISTENER_BARE_NEWLINE_ENV} set to that value, so that the listener lets the
 * content through and the outbound writer's fix is what this test proves.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SmugglingClusterIT {

    private static final int OFFSET = 4000;
    static final String SENDER = "alice@example.test";
    static final String SMUGGLED_SENDER = "ceo@bank.example";
    /** listener-service's bare CR/LF setting ({@code tlsgate.listener.bare-newline}) as an environment variable. */
    static final String LISTENER_BARE_NEWLINE_ENV = "TLSGATE_LISTENER_BARE_NEWLINE";
    /** The system property (or, upper-cased with underscores, environment variable) that picks its value for this run. */
    static final String BARE_NEWLINE_PROPERTY = "tlsgate.it.bare-newline";

    private static ClusterApi api;
    private static io.grpc.ManagedChannel delivery;
    /** Whether listener-service runs with its default, rejecting bare newlines (else it normalizes them). */
    private static boolean listenerRejects;
    private static PostfixPeer postfix;
    private static int smtp;
    private static final List<String> SUMMARY = new ArrayList<>();

    /** How a dot line is cut out of the content: the line end before the dot and the one after it. */
    enum Variant {
        LF_DOT_LF("<LF>.<LF>", "\n", "\n"),
        CR_DOT_CR("<CR>.<CR>", "\r", "\r"),
        LF_DOT_CRLF("<LF>.<CR><LF>", "\n", "\r\n"),
        CRLF_DOT_LF("<CR><LF>.<LF>", "\r\n", "\n"),
        CR_DOT_CRLF("<CR>.<CR><LF>", "\r", "\r\n");

        final String label;
        final String before;
        final String after;

        Variant(String label, String before, String after) {
            this.label = label;
            this.before = before;
            this.after = after;
        }

        /** The fake end of data. */
        String dotLine() {
            return before + "." + after;
        }
    }

    @BeforeAll
    static void cluster() throws Exception {
        postfix = PostfixPeer.start();
        System.out.printf("Postfix %s on 127.0.0.1:%d, smtpd_forbid_bare_newline = %s%n", PostfixPeer.version(), postfix.port(),
                postfix.parameter("smtpd_forbid_bare_newline"));
        Map<String, String> env = new HashMap<>();
        // Idle workers wait this long between looks at the queue: every delivery here happens
        // only because the commit of its message woke them (PostgreSQL NOTIFY), within seconds.
        env.put("TLSGATE_DELIVERY_POLL_INTERVAL", "10m");
        String bareNewline = System.getProperty(BARE_NEWLINE_PROPERTY, System.getenv("TLSGATE_IT_BARE_NEWLINE"));
        if (bareNewline != null && !bareNewline.isBlank()) {
            env.put(LISTENER_BARE_NEWLINE_ENV, bareNewline.strip());
        }
        System.out.println("listener-service bare newlines: " + env.getOrDefault(LISTENER_BARE_NEWLINE_ENV, "(its default)"));
        listenerRejects = !"normalize".equals(env.get(LISTENER_BARE_NEWLINE_ENV));
        api = ClusterApi.start("smuggling", OFFSET, env);
        delivery = api.deliveryChannel();
        smtp = api.port(2525);
        api.ok("PUT", 8081, "/api/v1/rat", "{\"domains\":[\"accepted.test\"]}");
        api.ok("POST", 8081, "/api/v1/smtp-routes", "{\"domain\":\"accepted.test\",\"hops\":[\"127.0.0.1:" + postfix.port() + "\"]}");
    }

    @AfterAll
    static void down() throws Exception {
        SUMMARY.forEach(System.out::println);
        if (delivery != null) {
            delivery.shutdownNow();
        }
        try {
            if (api != null) {
                api.close();
            }
        } finally {
            if (postfix != null) {
                postfix.close();
            }
        }
    }

    /** The control: the pipelined {@code <LF>.<LF>} payload straight to Postfix makes two messages, the second one smuggled. */
    @Test
    @Order(1)
    void postfixItselfIsLenientAboutBareLf() throws Exception {
        postfix.clear();
        for (Variant v : Variant.values()) {
            for (boolean pipelined : new boolean[] {true, false}) {
                String tag = "direct-" + v.name().toLowerCase() + (pipelined ? "-pipelined" : "");
                Session s = send(postfix.port(), tag, payload(v, pipelined, tag));
                List<PostfixPeer.Queued> got = mine(postfix.awaitQuiet(Duration.ofMillis(300), Duration.ofSeconds(10)), tag);
                SUMMARY.add(String.format("control  %-14s %-9s straight to Postfix: %d message(s) %s", v.label,
                        pipelined ? "pipelined" : "plain", got.size(), senders(got)));
                if (v == Variant.LF_DOT_LF && pipelined) {
                    assertEquals(2, got.size(), "Postfix took <LF>.<LF> as the end of data: " + got + "\n" + s.transcript);
                    assertEquals(List.of(SENDER, SMUGGLED_SENDER), sortedSenders(got), "the second message is the smuggled one");
                }
            }
        }
        postfix.clear();
    }

    /** A plain message goes through the listener and delivery-service to Postfix: the route works. */
    @Test
    @Order(2)
    void aPlainMessageReachesPostfix() throws Exception {
        postfix.clear();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Session s;
        while (true) {
            // Until policy-service's RAT and route have reached the listener.
            s = send(smtp, "plain", "Subject: plain\r\nX-Test: plain\r\n\r\nhello\r\n.\r\n".getBytes(StandardCharsets.US_ASCII));
            if (s.finalReply != null && s.finalReply.startsWith("250 ") || System.nanoTime() > deadline) {
                break;
            }
            Thread.sleep(500);
        }
        assertTrue(s.finalReply != null && s.finalReply.startsWith("250 "), s.transcript);
        awaitAttempted(s.mid(), Duration.ofSeconds(60));
        List<PostfixPeer.Queued> got = postfix.awaitAtLeast(1, Duration.ofSeconds(30));
        assertEquals(1, got.size(), got + "\n" + postfix.log());
        assertEquals(SENDER, got.get(0).sender());
        assertEquals(List.of("plain@accepted.test"), got.get(0).recipients());
        postfix.clear();
    }

    static Stream<Arguments> variants() {
        return Stream.of(Variant.values()).flatMap(v -> Stream.of(Arguments.of(v, true), Arguments.of(v, false)));
    }

    /**
     * One message through tlsgate with a bare-newline dot line (and a smuggled transaction after
     * it): rejected at the listener (its default, {@code reject}: a 5xx and nothing queued), or,
     * with the listener set to {@code normalize}, exactly one message at Postfix, from the real
     * sender, whole. Under the default a 250 fails the case even if Postfix then got one
     * message: that would be the outbound writer covering for a listener that stopped rejecting.
     */
    @ParameterizedTest(name = "{0} pipelined={1}")
    @MethodSource("variants")
    @Order(3)
    void aBareNewlineDotLineNeverSmugglesAMessage(Variant v, boolean pipelined) throws Exception {
        postfix.clear();
        String tag = v.name().toLowerCase() + (pipelined ? "-pipelined" : "");
        long queuedBefore = queuedMessages();
        Session s = send(smtp, tag, payload(v, pipelined, tag));
        String line = String.format("tlsgate  %-14s %-9s listener: %s", v.label, pipelined ? "pipelined" : "plain",
                s.finalReply == null ? "(no reply)" : s.finalReply);
        List<String> problems = new ArrayList<>();
        List<String> accepted = s.extra.stream().filter(r -> r.startsWith("2") || r.startsWith("3")).toList();
        List<String> other = s.extra.stream().filter(r -> !accepted.contains(r) && !r.startsWith("421 ")).toList();
        if (!accepted.isEmpty()) {
            problems.add("the listener accepted commands from inside the message: " + accepted);
        }
        if (!other.isEmpty()) {
            problems.add("the listener read part of the message as commands: " + other);
        }
        if (s.finalReply != null && s.finalReply.startsWith("5")) {
            List<PostfixPeer.Queued> got = postfix.awaitQuiet(Duration.ofSeconds(1), Duration.ofSeconds(5));
            long queuedAfter = queuedMessages();
            line += String.format("; delivery-service queued %d; Postfix: %d message(s) %s", queuedAfter - queuedBefore, got.size(),
                    senders(got));
            if (queuedAfter != queuedBefore) {
                problems.add("rejected at the listener, but delivery-service queued " + (queuedAfter - queuedBefore));
            }
            if (!got.isEmpty()) {
                problems.add("rejected at the listener, but Postfix has " + got);
            }
        } else if (s.finalReply != null && s.finalReply.startsWith("250 ")) {
            if (listenerRejects) {
                problems.add("the listener accepted a message with a bare newline although it should reject it");
            }
            String state = awaitAttempted(s.mid(), Duration.ofSeconds(60));
            List<PostfixPeer.Queued> got = postfix.awaitQuiet(Duration.ofMillis(500), Duration.ofSeconds(10));
            boolean whole = got.size() == 1 && postfix.content(got.get(0).queueId()).contains(pipelined ? "smuggled" : "world");
            line += String.format("; delivery %s; Postfix: %d message(s) %s%s", state, got.size(), senders(got),
                    got.size() == 1 ? (whole ? ", whole" : ", cut at the dot line") : "");
            if (got.size() != 1) {
                problems.add("Postfix has " + got.size() + " messages, not 1: " + got);
            }
            if (got.stream().anyMatch(q -> !SENDER.equals(q.sender()))) {
                problems.add("a message from another sender reached Postfix: " + senders(got));
            }
            if (got.size() == 1 && !whole) {
                problems.add("the message reached Postfix cut at the dot line:\n" + postfix.content(got.get(0).queueId()));
            }
        } else if (s.finalReply == null) {
            problems.add("the listener refused the recipient before DATA: " + s.rcptReply);
        } else {
            problems.add("neither 250 nor 5xx at the end of data");
        }
        SUMMARY.add(line);
        System.out.println(line);
        if (!problems.isEmpty()) {
            fail(v.label + (pipelined ? " with a smuggled transaction: " : ": ") + String.join("; ", problems) + "\n" + s.transcript);
        }
    }

    /**
     * The outbound writer on its own: the same content put straight into delivery-service's
     * queue (as stored bytes, past the listener's checks) reaches Postfix as exactly one
     * message from the real sender, whole: every line end is written as CRLF and every dot at
     * a line start doubled, so the lenient Postfix never sees an end of data inside it.
     */
    @ParameterizedTest(name = "{0} pipelined={1}")
    @MethodSource("variants")
    @Order(4)
    void storedContentWithABareNewlineDotLineReachesPostfixAsOneMessage(Variant v, boolean pipelined) throws Exception {
        postfix.clear();
        String tag = "stored-" + v.name().toLowerCase() + (pipelined ? "-pipelined" : "");
        byte[] wire = payload(v, pipelined, tag);
        // The content without the SMTP end of data the listener would have taken off.
        byte[] content = java.util.Arrays.copyOf(wire, wire.length - ".\r\n".length());
        long mid = ClusterApi.enqueue(delivery, SENDER, List.of(tag + "@accepted.test"), content);
        String state = awaitAttempted(mid, Duration.ofSeconds(60));
        List<PostfixPeer.Queued> got = postfix.awaitQuiet(Duration.ofMillis(500), Duration.ofSeconds(10));
        boolean whole = got.size() == 1 && postfix.content(got.get(0).queueId()).contains(pipelined ? "smuggled" : "world");
        String line = String.format("stored   %-14s %-9s delivery %s; Postfix: %d message(s) %s%s", v.label,
                pipelined ? "pipelined" : "plain", state, got.size(), senders(got), whole ? ", whole" : "");
        SUMMARY.add(line);
        System.out.println(line);
        assertEquals(1, got.size(), "Postfix must see exactly one message: " + line + "\n" + postfix.log());
        assertEquals(SENDER, got.get(0).sender(), line);
        assertTrue(whole, "the message must arrive whole: " + line + "\n" + postfix.content(got.get(0).queueId()));
        assertTrue(state.startsWith("DELIVERED"), line);
    }

    // ---- helpers

    /**
     * The content of the one message a client sends: "hello", the variant's dot line, then
     * (pipelined) MAIL FROM the smuggled sender, RCPT, DATA, a message and the dot line again,
     * each line ended the variant's way, or (plain) "world"; then the real CRLF.CRLF.
     */
    static byte[] payload(Variant v, boolean pipelined, String tag) {
        StringBuilder b = new StringBuilder("Subject: smuggling " + tag + "\r\nX-Test: " + tag + "\r\n\r\nhello").append(v.dotLine());
        if (pipelined) {
            String end = v.after;
            b.append("MAIL FROM:<").append(SMUGGLED_SENDER).append(">").append(end)
                    .append("RCPT TO:<victim-").append(tag).append("@accepted.test>").append(end)
                    .append("DATA").append(end)
                    .append("From: <").append(SMUGGLED_SENDER).append(">").append(end)
                    .append("Subject: smuggled ").append(tag).append(end).append(end)
                    .append("smuggled").append(v.dotLine());
        } else {
            b.append("world");
        }
        return b.append("\r\n.\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * What a client saw: the reply to RCPT, the reply to the end of data (null when DATA got no
     * 354) and whatever came after it but the 221 to QUIT.
     */
    record Session(String rcptReply, String finalReply, List<String> extra, String transcript) {
        long mid() {
            return Long.parseLong(finalReply.substring(finalReply.lastIndexOf(' ') + 1));
        }
    }

    /**
     * One client session: EHLO, MAIL FROM {@value #SENDER}, RCPT {@code <local>@accepted.test},
     * DATA, the content (its own end of data included) and QUIT in one write, then every reply
     * up to the close.
     */
    static Session send(int port, String local, byte[] content) throws IOException {
        StringBuilder t = new StringBuilder();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(15_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            expect(in, t, "220");
            write(out, t, "EHLO client.test\r\n".getBytes(StandardCharsets.US_ASCII));
            String l;
            do {
                l = expect(in, t, "250");
            } while (l.charAt(3) == '-');
            write(out, t, ("MAIL FROM:<" + SENDER + ">\r\nRCPT TO:<" + local + "@accepted.test>\r\nDATA\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            expect(in, t, "250");
            String rcpt = readLine(in, t);
            if (rcpt == null || !rcpt.startsWith("250")) {
                return new Session(rcpt, null, List.of(), t.toString());
            }
            expect(in, t, "354");
            ByteArrayOutputStream rest = new ByteArrayOutputStream();
            rest.write(content);
            rest.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
            write(out, t, rest.toByteArray());
            String last = null;
            List<String> extra = new ArrayList<>();
            try {
                while ((l = readLine(in, t)) != null) {
                    if (last == null) {
                        last = l;
                    } else if (!l.startsWith("221 ")) {
                        extra.add(l);
                    }
                }
            } catch (SocketTimeoutException | java.net.SocketException e) {
                t.append("(").append(e.getMessage()).append(")\n");
            }
            return new Session(rcpt, last, extra, t.toString());
        }
    }

    private static String expect(InputStream in, StringBuilder t, String code) throws IOException {
        String l = readLine(in, t);
        if (l == null || !l.startsWith(code)) {
            throw new AssertionError("expected " + code + ", got " + l + "\n" + t);
        }
        return l;
    }

    private static void write(OutputStream out, StringBuilder t, byte[] bytes) throws IOException {
        t.append("C: ").append(visible(new String(bytes, StandardCharsets.US_ASCII))).append('\n');
        out.write(bytes);
        out.flush();
    }

    /** One reply line (up to LF, CR dropped), or null at the end of the stream. */
    private static String readLine(InputStream in, StringBuilder t) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != -1 && c != '\n') {
            if (c != '\r') {
                b.write(c);
            }
        }
        if (c == -1 && b.size() == 0) {
            return null;
        }
        String line = b.toString(StandardCharsets.US_ASCII);
        t.append("S: ").append(line).append('\n');
        return line;
    }

    private static String visible(String s) {
        return s.replace("\r", "<CR>").replace("\n", "<LF>");
    }

    /** The Postfix messages of one case: to {@code <tag>@...} or {@code victim-<tag>@...}. */
    private static List<PostfixPeer.Queued> mine(List<PostfixPeer.Queued> all, String tag) {
        return all.stream().filter(q -> q.recipients().stream().anyMatch(r -> r.startsWith(tag + "@") || r.startsWith("victim-" + tag + "@")))
                .toList();
    }

    private static String senders(List<PostfixPeer.Queued> qs) {
        return sortedSenders(qs).toString();
    }

    /** The envelope senders, sorted (postqueue lists messages in no particular order). */
    private static List<String> sortedSenders(List<PostfixPeer.Queued> qs) {
        return qs.stream().map(PostfixPeer.Queued::sender).sorted().toList();
    }

    /** Messages in delivery-service's queue, in any state. */
    private static long queuedMessages() throws Exception {
        long n = 0;
        for (JsonNode c : api.get(8083, "/api/v1/queue").get("messagesByState")) {
            n += c.asLong();
        }
        return n;
    }

    /** Waits until delivery-service has tried the message (every recipient attempted or done); its state then. */
    private static String awaitAttempted(long mid, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode m = null;
        while (System.nanoTime() < deadline) {
            m = api.get(8083, "/api/v1/messages/" + mid);
            boolean tried = "DONE".equals(m.get("state").asText());
            if (!tried) {
                tried = true;
                for (JsonNode r : m.get("recipients")) {
                    tried &= r.path("attempts").asInt() > 0;
                }
            }
            if (tried) {
                JsonNode r = m.get("recipients").get(0);
                return r.get("state").asText() + (r.hasNonNull("lastReply") ? " (" + r.get("lastReply").asText() + ")" : "");
            }
            Thread.sleep(200);
        }
        fail("delivery-service did not try MID " + mid + " within " + timeout + ": " + m);
        return null;
    }
}
