package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.tlsgate.testkit.KafkaRecords;
import io.tlsgate.testkit.ScriptedSmtpPeer;
import io.tlsgate.testkit.SmtpDialogue;
import io.tlsgate.testkit.TestDnsServer;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The cluster of the listener tests ({@code Listener*ClusterIT}): listener-service with real
 * policy-service (listeners, HAT, mail flow policies, RAT, SMTP route), cert-service (the
 * listener's certificate, trusted CAs for client certificates), delivery-service (the queue)
 * with PostgreSQL and Kafka, and a DNS server on loopback for reverse DNS. Clients connect from
 * loopback addresses 127.0.3.x, one per sender group, and follow send/expect scripts over real
 * sockets; accepted mail goes on to a scripted "internal" server through the SMTP route.
 *
 * <p>Sender groups: 127.0.3.1 OFF, .2 PREFERRED (TLS mandatory for {@code @bank.test}), .3
 * REQUIRED, .4 PREFERRED_VERIFY, .5 REQUIRED_VERIFY, .6 RELAYED, .7 BLOCKED, .8 TCPREFUSE, .9
 * two recipients and two messages at most, {@code .partner.test} (forward-confirmed only) OFF;
 * everyone else (127.0.0.1 among them) ALL, PREFERRED. The listener {@code inbound} is
 * {@value #MX} on 2525 (64 KiB a message), {@code tiny} on 2526 (1,024 octets, 2 connections per
 * client, 3 in all).
 *
 * <p>One cluster per test JVM: failsafe runs every IT class in one forked JVM (its default
 * forkCount 1 with reuseForks), and each class with {@code @ExtendWith(ListenerCluster.Shared.class)}
 * takes the instance from the store of the root extension context, where the first such class
 * started it; JUnit closes it (an {@link AutoCloseable} in that store) when the run ends. The
 * helpers are static and work on that instance. A test that changes what the cluster runs
 * (kills or restarts a service, assigns a certificate) puts it back before it ends, so the
 * classes and their tests may run in any order.
 */
final class ListenerCluster implements AutoCloseable {

    static final int OFFSET = 3000;
    static final String MX = "mx.tlsgate.test";

    // ---- script fragments (SmtpDialogue steps, each ending in a line end, so that they concatenate)

    /** The greeting of the {@code inbound} listener. */
    static final String HELLO = "S: 220 " + MX + " ESMTP tlsgate\n";
    static final String HELO = "C: HELO client.test\nS: 250 " + MX + "\n";
    static final String QUIT = "C: QUIT\nS: 221 2.0.0 Bye\n";
    static final String STARTTLS = "C: STARTTLS\nS: 220 2.0.0 Ready to start TLS\nTLS\n";
    static final String QUEUED = "S: 250 2.0.0 Ok: queued as *\n";
    /** EHLO before TLS: the host name, four extensions, STARTTLS last. */
    static final String EHLO = ehlo("client.test");

    /** EHLO as {@code client} before TLS, where STARTTLS is offered (last of six lines). */
    static String ehlo(String client) {
        return ehloWithout(client) + "S: *\nS: 250 STARTTLS\n";
    }

    /** EHLO as {@code client} where STARTTLS is not offered (TLS is off): ENHANCEDSTATUSCODES last. */
    static String ehloWithoutStarttls(String client) {
        return ehloWithout(client) + "S: 250 ENHANCEDSTATUSCODES\n";
    }

    /** EHLO as {@code client} once TLS is on: REQUIRETLS (RFC 8689) last, no STARTTLS. */
    static String ehloAfterTls(String client) {
        return ehloWithout(client) + "S: 250-ENHANCEDSTATUSCODES\nS: 250 REQUIRETLS\n";
    }

    private static String ehloWithout(String client) {
        return "C: EHLO " + client + "\nS: 250-" + MX + "\nS: *\nS: *\nS: *\n";
    }

    /** MAIL, RCPT and DATA pipelined in one write, MAIL and RCPT accepted (what DATA gets is the caller's to expect). */
    static String mailRcpt(String from, String to) {
        return "C: MAIL FROM:<" + from + ">\\r\\nRCPT TO:<" + to + ">\\r\\nDATA\nS: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\n";
    }

    /** MAIL, RCPT and DATA pipelined in one write, each accepted. */
    static String mailRcptData(String from, String to) {
        return mailRcpt(from, to) + "S: 354 *\n";
    }

    private static ListenerCluster current;

    private final ClusterApi api;
    private final TestDnsServer dns;
    private final ScriptedSmtpPeer inside;
    private final TestPki.Issued root;

    private ListenerCluster(ClusterApi api, TestDnsServer dns, ScriptedSmtpPeer inside, TestPki.Issued root) {
        this.api = api;
        this.dns = dns;
        this.root = root;
        this.inside = inside;
    }

    /** Starts the cluster for every class of a test run that extends with it, the first time one asks. */
    static final class Shared implements BeforeAllCallback {
        @Override
        public void beforeAll(ExtensionContext context) {
            ClusterApi.oncePerRun(context, ListenerCluster.class, ListenerCluster::start);
        }
    }

    private static ListenerCluster start() throws Exception {
        TestDnsServer dns = new TestDnsServer();
        ScriptedSmtpPeer inside = null;
        ClusterApi api = null;
        try {
            // Reverse DNS: 127.0.3.10 is forward-confirmed, 127.0.3.11's PTR name points elsewhere.
            dns.ptr("127.0.3.10", "mx1.partner.test").address("mx1.partner.test", "127.0.3.10");
            dns.ptr("127.0.3.11", "mx2.partner.test").address("mx2.partner.test", "127.0.3.99");
            Map<String, String> env = ClusterApi.inboundEnv(dns);
            env.put("TLSGATE_LISTENER_IDLE_TIMEOUT", "4s");
            env.put("TLSGATE_LISTENER_SESSION_TIMEOUT", "25s");
            // Short-lived service identities: every service renews its own during the run (InternalTlsClusterIT).
            env.put("TLSGATE_INTERNAL_TLS_LIFETIME", "2m");
            // Smaller than the inbound listener's 64 KiB, so that delivery-service refuses a message the listener let through.
            env.put("TLSGATE_DELIVERY_MAX_MESSAGE_SIZE", "40000");
            api = ClusterApi.start("listener", OFFSET, env);

            TestPki.Issued root = TestPki.selfSignedCa("Listener IT Client Root", Duration.ofDays(30));
            assertEquals(201, api.send("POST", 8082, "/api/v1/trusted-cas", "application/x-pem-file", root.certificatePem())
                    .statusCode());
            TestPki.Issued insideCa = TestPki.selfSignedCa("inside.accepted.test", Duration.ofDays(30));
            inside = new ScriptedSmtpPeer(ScriptedSmtpPeer.Script.tls("inside", TestPki.serverContext(insideCa.keys(), null,
                    insideCa.certificate())), InetAddress.getByName("127.0.0.1"), 0);
            current = new ListenerCluster(api, dns, inside, root);
            configure(api, inside);
            awaitListeners(Duration.ofSeconds(30));
            return current;
        } catch (Exception | Error e) {
            current = null;
            ClusterApi.closeAll(inside, api, dns);
            throw e;
        }
    }

    /** Policies: one per TLS setting, the built-in ones for RELAY and REJECT, TCPREFUSE, limits; the listeners, RAT and route. */
    private static void configure(ClusterApi api, ScriptedSmtpPeer inside) throws Exception {
        policy(api, "T_OFF", "ACCEPT", "OFF", "");
        policy(api, "T_PREF", "ACCEPT", "PREFERRED", ",\"tlsMandatorySenders\":[\"@bank.test\"]");
        policy(api, "T_REQ", "ACCEPT", "REQUIRED", "");
        policy(api, "T_PREFV", "ACCEPT", "PREFERRED_VERIFY", "");
        policy(api, "T_REQV", "ACCEPT", "REQUIRED_VERIFY", "");
        policy(api, "T_REFUSE", "TCPREFUSE", "OFF", "");
        policy(api, "T_LIMITS", "ACCEPT", "OFF", ",\"maxRecipientsPerMessage\":2,\"maxMessagesPerConnection\":2");
        group(api, "OFFS", "T_OFF", "127.0.3.1");
        group(api, "PREFS", "T_PREF", "127.0.3.2");
        group(api, "REQS", "T_REQ", "127.0.3.3");
        group(api, "PREFVS", "T_PREFV", "127.0.3.4");
        group(api, "REQVS", "T_REQV", "127.0.3.5");
        group(api, "REFUSES", "T_REFUSE", "127.0.3.8");
        group(api, "LIMITS", "T_LIMITS", "127.0.3.9");
        group(api, "PARTNERS", "T_OFF", ".partner.test");
        api.ok("PUT", 8081, "/api/v1/sender-groups/RELAYLIST", "{\"policy\":\"RELAYED\",\"senders\":[\"127.0.3.6\"]}");
        api.ok("PUT", 8081, "/api/v1/sender-groups/BLOCKLIST", "{\"policy\":\"BLOCKED\",\"senders\":[\"127.0.3.7\"]}");
        api.ok("PUT", 8081, "/api/v1/listeners/inbound", "{\"port\":2525,\"hostname\":\"" + MX + "\",\"maxMessageSizeBytes\":65536}");
        api.ok("PUT", 8081, "/api/v1/listeners/inbound/hat", "{\"hostAccessTable\":[\"BLOCKLIST\",\"RELAYLIST\",\"OFFS\",\"PREFS\","
                + "\"REQS\",\"PREFVS\",\"REQVS\",\"REFUSES\",\"LIMITS\",\"PARTNERS\"]}");
        api.ok("POST", 8081, "/api/v1/listeners", "{\"name\":\"tiny\",\"port\":2526,\"hostname\":\"tiny.tlsgate.test\","
                + "\"maxConcurrentConnections\":3,\"maxConnectionsPerClient\":2,\"maxMessageSizeBytes\":1024}");
        api.ok("PUT", 8081, "/api/v1/rat", "{\"domains\":[\"accepted.test\"]}");
        api.ok("POST", 8081, "/api/v1/smtp-routes", "{\"domain\":\"accepted.test\",\"hops\":[\"127.0.0.1:" + inside.port() + "\"]}");
    }

    private static void policy(ClusterApi api, String name, String behaviour, String tls, String more) throws Exception {
        api.ok("POST", 8081, "/api/v1/mail-flow-policies", "{\"name\":\"" + name + "\",\"behaviour\":\"" + behaviour
                + "\",\"tls\":\"" + tls + "\"" + more + "}");
    }

    private static void group(ClusterApi api, String name, String policy, String sender) throws Exception {
        api.ok("POST", 8081, "/api/v1/sender-groups", "{\"name\":\"" + name + "\",\"policy\":\"" + policy + "\",\"senders\":[\""
                + sender + "\"]}");
    }

    @Override
    public void close() throws Exception {
        current = null;
        ClusterApi.closeAll(inside, api, dns);
    }

    private static ListenerCluster cluster() {
        return ClusterApi.started(current, Shared.class);
    }

    // ---- the cluster's parts

    static ClusterApi api() {
        return cluster().api;
    }

    static DevStack stack() {
        return api().stack();
    }

    /** The {@code inbound} listener's port. */
    static int smtp() {
        return api().port(2525);
    }

    /** The {@code tiny} listener's port. */
    static int tiny() {
        return api().port(2526);
    }

    /** The internal server behind the SMTP route for accepted.test. */
    static ScriptedSmtpPeer inside() {
        return cluster().inside;
    }

    /** The CA trusted for client certificates. */
    static TestPki.Issued clientRoot() {
        return cluster().root;
    }

    // ---- dialogues and what the cluster made of them

    static SmtpDialogue dialogue(String from, String script) throws Exception {
        return dialogue(from, smtp(), SmtpDialogue.trustAll(null), script);
    }

    static SmtpDialogue dialogue(String from, int port, String script) throws Exception {
        return dialogue(from, port, SmtpDialogue.trustAll(null), script);
    }

    static SmtpDialogue dialogue(String from, SSLContext tls, String script) throws Exception {
        return dialogue(from, smtp(), tls, script);
    }

    /** Runs a script from a source address; the connection is closed afterwards (the transcript stays readable). */
    static SmtpDialogue dialogue(String from, int port, SSLContext tls, String script) throws Exception {
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
    static long icidOf(SmtpDialogue d) throws Exception {
        String ip = d.localAddress().getAddress().getHostAddress();
        Pattern p = Pattern.compile("New SMTP ICID (\\d+) interface \\S+ \\([^)]*\\) address " + Pattern.quote(ip) + " .*");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            List<String> log = api().mailLog("listener-service");
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

    /** listener-service's mail-log lines about one connection. */
    static List<String> icidLines(long icid) throws Exception {
        Pattern p = Pattern.compile(".*\\bICID " + icid + "\\b.*");
        return api().mailLog("listener-service").stream().filter(l -> p.matcher(l).matches()).toList();
    }

    /** Messages in delivery-service's queue in any state (GET /api/v1/queue). */
    static long queuedMessages() throws Exception {
        long n = 0;
        for (JsonNode count : api().get(8083, "/api/v1/queue").get("messagesByState")) {
            n += count.asLong();
        }
        return n;
    }

    /** A message in delivery-service's queue (GET /api/v1/messages/{mid}). */
    static JsonNode message(long mid) throws Exception {
        return api().get(8083, "/api/v1/messages/" + mid);
    }

    /** The MID a reply line {@code 250 2.0.0 Ok: queued as <mid>} names (with or without the transcript's "S: "). */
    static long queuedMid(String line) {
        return Long.parseLong(line.substring(line.indexOf("queued as ") + "queued as ".length()));
    }

    /** The one outcome event of a connection. */
    static JsonNode outcome(long icid) throws Exception {
        List<ConsumerRecord<String, byte[]>> rs = KafkaRecords.readUntil(api().kafka(), "tlsgate.tls-outcomes",
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

    /** The message the internal server got with the header line {@code marker}. */
    static ScriptedSmtpPeer.Received awaitInside(String marker, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (ScriptedSmtpPeer.Received r : inside().received()) {
                if (new String(r.data(), StandardCharsets.UTF_8).contains(marker + "\r\n")) {
                    return r;
                }
            }
            Thread.sleep(200);
        }
        fail("the internal server never got '" + marker + "'; it has " + inside().received().size() + " messages");
        return null;
    }

    /** The {@code inbound} listener's open connections once none are left, or the last count seen within {@code timeout}. */
    static int openConnectionsOnceNone(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        int open = -1;
        while (System.nanoTime() < deadline && open != 0) {
            open = api().get(8084, "/api/v1/smtp/listeners").get(0).get("connections").asInt();
            sleep(250);
        }
        return open;
    }

    // ---- changes a test undoes

    /** Restarts listener-service with {@code env} for this run (none: as configured) and waits until both listeners are bound. */
    static void restartListenerService(Map<String, String> env) throws Exception {
        stack().restart("listener-service", env);
        awaitListeners(Duration.ofSeconds(30));
    }

    /** Waits until listener-service has bound both listeners, {@code inbound} with its host name. */
    static void awaitListeners(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode ls = api().get(8084, "/api/v1/smtp/listeners");
            boolean both = false;
            for (JsonNode l : ls) {
                both |= l.get("name").asText().equals("tiny");
            }
            if (both && ls.size() == 2 && ls.get(0).get("hostname").asText().equals(MX)) {
                return;
            }
            Thread.sleep(200);
        }
        fail("listeners not bound: " + api().get(8084, "/api/v1/smtp/listeners"));
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
