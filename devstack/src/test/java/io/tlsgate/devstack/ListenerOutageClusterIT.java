package io.tlsgate.devstack;

import static io.tlsgate.devstack.ListenerCluster.EHLO;
import static io.tlsgate.devstack.ListenerCluster.HELLO;
import static io.tlsgate.devstack.ListenerCluster.HELO;
import static io.tlsgate.devstack.ListenerCluster.QUEUED;
import static io.tlsgate.devstack.ListenerCluster.QUIT;
import static io.tlsgate.devstack.ListenerCluster.STARTTLS;
import static io.tlsgate.devstack.ListenerCluster.api;
import static io.tlsgate.devstack.ListenerCluster.awaitListeners;
import static io.tlsgate.devstack.ListenerCluster.dialogue;
import static io.tlsgate.devstack.ListenerCluster.icidLines;
import static io.tlsgate.devstack.ListenerCluster.icidOf;
import static io.tlsgate.devstack.ListenerCluster.mailRcpt;
import static io.tlsgate.devstack.ListenerCluster.mailRcptData;
import static io.tlsgate.devstack.ListenerCluster.queuedMid;
import static io.tlsgate.devstack.ListenerCluster.restartListenerService;
import static io.tlsgate.devstack.ListenerCluster.smtp;
import static io.tlsgate.devstack.ListenerCluster.stack;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.SmtpDialogue;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * listener-service in the {@link ListenerCluster} while a service goes away: delivery-service,
 * policy-service or cert-service down, listener-service itself stopping or killed. Each test
 * starts what it stopped again before it ends.
 */
@ExtendWith(ListenerCluster.Shared.class)
class ListenerOutageClusterIT {

    /** delivery-service down: the end of DATA gets 451 4.3.0, never 250; back up, mail is accepted again. */
    @Test
    void deliveryDownMeans451() throws Exception {
        stack().service("delivery-service").kill();
        try {
            // The first message may already be streaming when the Enqueue fails (451 after the
            // content), later ones learn at DATA that delivery-service is away (451 at once).
            int atData = 0;
            for (int i = 0; i < 3; i++) {
                try (SmtpDialogue d = SmtpDialogue.connect("127.0.0.1", "127.0.0.1", smtp())) {
                    d.run(HELLO + HELO + mailRcpt("a@origin.test", "down@accepted.test"));
                    String r = d.reply().get(0);
                    if (r.startsWith("354")) {
                        d.send("X-Test: delivery down\r\n\r\n.\r\n");
                        r = d.reply().get(0);
                    } else {
                        atData++;
                    }
                    assertEquals("451 4.3.0 Error: queue unavailable, message not accepted, try again later", r, d.transcript());
                    d.run(QUIT);
                    long icid = icidOf(d);
                    assertTrue(icidLines(icid).stream().anyMatch(l -> l.startsWith("ICID " + icid + " message not queued: ")),
                            icidLines(icid).toString());
                }
            }
            assertTrue(atData >= 2, "once the connection is known to be down, DATA itself gets 451 (" + atData + " of 3)");
        } finally {
            stack().restart("delivery-service");
        }
        dialogue("127.0.0.1", HELLO + HELO + mailRcptData("a@origin.test", "up@accepted.test")
                + "C: X-Test: delivery up\\r\\n\\r\\n.\n" + QUEUED + QUIT);
    }

    /**
     * Upstreams away: policy-service down means 421 4.3.0 at connect and 451 4.3.0 to a RCPT
     * that needs the RAT; cert-service down leaves the running listener's STARTTLS working; a
     * stopping listener-service says 421 4.3.2 to its open sessions.
     */
    @Test
    void upstreamsDown() throws Exception {
        SmtpDialogue open = SmtpDialogue.connect("127.0.3.32", "127.0.0.1", smtp());
        open.run(HELLO + HELO + "C: MAIL FROM:<a@origin.test>\nS: 250 2.1.0 Ok\n");
        stack().service("policy-service").kill();
        try {
            Thread.sleep(500);
            open.run("C: RCPT TO:<someone@never-looked-up.test>\nS: 451 4.3.0 Error: temporary failure, try again later\n" + QUIT);
            open.close();
            dialogue("127.0.3.30", """
                    S: 421 4.3.0 mx.tlsgate.test Error: policy temporarily unavailable, try again later
                    CLOSED
                    """);
        } finally {
            open.close();
            stack().restart("policy-service");
        }
        dialogue("127.0.3.30", HELLO + QUIT);

        // cert-service away: the running listener keeps its identity and its certificate
        // (STARTTLS still works; a new process would wait for cert-service: docs/security.md).
        stack().service("cert-service").kill();
        try {
            dialogue("127.0.3.31", HELLO + STARTTLS + QUIT);
        } finally {
            stack().restart("cert-service");
        }
        // A stopping listener-service says 421 4.3.2 to its open sessions.
        try (SmtpDialogue stopping = SmtpDialogue.connect("127.0.3.33", "127.0.0.1", smtp())) {
            stopping.run(HELLO);
            stack().restart("listener-service");
            stopping.run("S: 421 4.3.2 mx.tlsgate.test Service shutting down\nCLOSED");
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                dialogue("127.0.3.31", HELLO + STARTTLS + QUIT);
                break;
            } catch (AssertionError e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(500);
            }
        }
        awaitListeners(Duration.ofSeconds(30));
    }

    /**
     * kill -9 of listener-service while 200 clients send 1,000 messages: every message
     * answered 250 is in delivery-service's queue under the MID the 250 named (its sender
     * says which message it is).
     */
    @Test
    void killMinus9DuringConcurrentSendsLosesNothingAcknowledged() throws Exception {
        int clients = 200;
        int each = 5;
        ConcurrentHashMap<String, Long> acknowledged = new ConcurrentHashMap<>();
        AtomicInteger refused = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
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
                    try (SmtpDialogue d = SmtpDialogue.connect(from, "127.0.0.1", smtp())) {
                        d.run(HELLO + "C: HELO kill.client.test\nS: 250 mx.tlsgate.test\n" + mailRcptData(sender, "kill@accepted.test")
                                + "C: X-Test: %s\\r\\n\\r\\nbody\\r\\n.\n".formatted(sender));
                        String r = d.reply().get(0);
                        if (r.startsWith("250 2.0.0 Ok: queued as ")) {
                            acknowledged.put(sender, queuedMid(r));
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
        stack().service("listener-service").kill();
        try {
            int atKill = acknowledged.size();
            for (Thread t : threads) {
                t.join(120_000);
            }
            System.out.printf("kill -9: %d of %d answered 250 (%d at the kill), %d not%n", acknowledged.size(), clients * each,
                    atKill, refused.get());
            assertTrue(atKill >= 250, "killed while sending: " + atKill);
            assertTrue(refused.get() > 0, "some sends were cut off by the kill");
            List<String> lost = new ArrayList<>();
            for (var e : acknowledged.entrySet()) {
                var r = api().send("GET", 8083, "/api/v1/messages/" + e.getValue(), null, null);
                if (r.statusCode() != 200 || !e.getKey().equals(ClusterApi.JSON.readTree(r.body()).get("mailFrom").asText())) {
                    lost.add(e.getKey() + " MID " + e.getValue() + ": " + r.statusCode() + " " + r.body());
                }
            }
            assertTrue(lost.isEmpty(), lost.size() + " acknowledged messages are not queued: " + lost);
        } finally {
            restartListenerService(Map.of());
        }
        dialogue("127.0.0.1", HELLO + QUIT);
    }
}
