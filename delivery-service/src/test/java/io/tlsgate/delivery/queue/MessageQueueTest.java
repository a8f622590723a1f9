package io.tlsgate.delivery.queue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.tlsgate.testkit.TlsgateTestResources;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/**
 * Group commit on the real PostgreSQL: many messages offered at once share commits, yet every
 * MID names the message it was given for (content and recipients), a message the database
 * refuses fails alone, and a large message streamed from a file is stored whole.
 */
@QuarkusTest
class MessageQueueTest {

    @Inject
    MessageQueue queue;

    private static NewMessage message(String tag, String tlsProtocol) {
        byte[] body = ("Subject: " + tag + "\r\n\r\n" + tag + "\r\n").getBytes(StandardCharsets.US_ASCII);
        return new NewMessage("sender-" + tag + "@example.com", List.of(tag + "-a@one.test", tag + "-b@two.test"),
                NewMessage.Content.of(body), body.length, 7, "test",
                tlsProtocol == null ? NewMessage.TlsFacts.NONE : new NewMessage.TlsFacts(tlsProtocol, "X", null, false));
    }

    @Inject
    javax.sql.DataSource dataSource;

    /** A message stored in the caller's transaction is there when it commits and not when it rolls back (DSNs ride with their result). */
    @Test
    void aMessageStoredInTheCallersTransactionCommitsAndRollsBackWithIt() throws Exception {
        long[] kept = {0};
        io.tlsgate.platform.db.Jdbc.transaction(dataSource, c -> {
            kept[0] = queue.enqueueIn(c, message("in-tx-kept", null));
            return null;
        });
        assertEquals("sender-in-tx-kept@example.com", queue.find(kept[0]).orElseThrow().mailFrom());
        long[] lost = {0};
        assertThrows(IllegalStateException.class, () -> io.tlsgate.platform.db.Jdbc.transaction(dataSource, c -> {
            lost[0] = queue.enqueueIn(c, message("in-tx-lost", null));
            throw new IllegalStateException("the result could not be recorded");
        }));
        assertTrue(lost[0] > 0);
        assertTrue(queue.find(lost[0]).isEmpty(), "rolled back with the transaction");
    }

    @Test
    void concurrentMessagesShareCommitsAndEachMidIsItsOwnMessage() throws Exception {
        int n = 400;
        ExecutorService pool = Executors.newFixedThreadPool(32);
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<Long>> mids = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                String tag = "gc" + System.nanoTime() + "x" + i;
                CompletableFuture<Long> f = new CompletableFuture<>();
                mids.add(f);
                pool.execute(() -> {
                    try {
                        go.await();
                        f.complete(queue.enqueue(message(tag, null)));
                    } catch (Throwable t) {
                        f.completeExceptionally(t);
                    }
                });
            }
            go.countDown();
            CompletableFuture.allOf(mids.toArray(CompletableFuture[]::new)).join();
        } finally {
            pool.shutdown();
        }
        assertEquals(n, new HashSet<>(mids.stream().map(CompletableFuture::join).toList()).size(), "distinct MIDs");
        try (Connection c = TlsgateTestResources.postgres().connect();
                PreparedStatement m = c.prepareStatement("select mail_from, data from delivery.message where mid = ?");
                PreparedStatement r = c.prepareStatement("select rid, address from delivery.recipient where mid = ? order by rid")) {
            for (CompletableFuture<Long> f : mids) {
                long mid = f.join();
                m.setLong(1, mid);
                String tag;
                try (ResultSet rs = m.executeQuery()) {
                    assertTrue(rs.next(), "MID " + mid + " stored");
                    tag = rs.getString(1).substring("sender-".length(), rs.getString(1).indexOf('@'));
                    assertArrayEquals(("Subject: " + tag + "\r\n\r\n" + tag + "\r\n").getBytes(StandardCharsets.US_ASCII),
                            rs.getBytes(2), "MID " + mid + " content is its sender's");
                }
                r.setLong(1, mid);
                List<String> to = new ArrayList<>();
                try (ResultSet rs = r.executeQuery()) {
                    while (rs.next()) {
                        to.add(rs.getString(2));
                    }
                }
                assertEquals(List.of(tag + "-a@one.test", tag + "-b@two.test"), to, "MID " + mid + " recipients");
            }
        }
        long shared;
        try (Connection c = TlsgateTestResources.postgres().connect();
                PreparedStatement ps = c.prepareStatement("select count(distinct xmin::text) from delivery.message where mid = any(?)")) {
            ps.setArray(1, c.createArrayOf("bigint", mids.stream().map(CompletableFuture::join).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                shared = rs.getLong(1);
            }
        }
        assertTrue(shared < n, "the " + n + " messages were committed in " + shared + " transactions: none shared");
    }

    @Test
    void aMessageTheDatabaseRefusesFailsAloneAndTheOthersAreStored() throws Exception {
        List<CompletableFuture<Long>> futures = new ArrayList<>();
        String run = "iso" + System.nanoTime();
        for (int i = 0; i < 30; i++) {
            // PostgreSQL refuses a NUL in text: this one passes validation and fails in the transaction.
            futures.add(queue.enqueueAsync(message(run + "x" + i, i == 15 ? "TLS\u0000v1.3" : null)));
        }
        for (int i = 0; i < futures.size(); i++) {
            CompletableFuture<Long> f = futures.get(i);
            if (i == 15) {
                CompletionException e = assertThrows(CompletionException.class, f::join);
                assertInstanceOf(QueueUnavailableException.class, e.getCause());
            } else {
                assertTrue(f.join() > 0);
            }
        }
    }

    @Test
    void aLargeMessageIsStreamedFromItsFileAndStoredWhole() throws Exception {
        byte[] body = new byte[3 * 1024 * 1024];
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte) ('a' + i % 26);
        }
        Path file = Files.createTempFile("queue-test", ".eml");
        try {
            Files.write(file, body);
            long mid = queue.enqueue(new NewMessage("big@example.com", List.of("x@one.test"), NewMessage.Content.of(file), body.length,
                    8, "test", NewMessage.TlsFacts.NONE));
            try (Connection c = TlsgateTestResources.postgres().connect();
                    PreparedStatement ps = c.prepareStatement("select data from delivery.message where mid = ?")) {
                ps.setLong(1, mid);
                try (ResultSet rs = ps.executeQuery()) {
                    assertTrue(rs.next());
                    assertArrayEquals(body, rs.getBytes(1));
                }
            }
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void validationErrorsAreThrownBeforeAnythingIsQueued() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> queue.enqueueAsync(new NewMessage("a@example.com", List.of(), NewMessage.Content.of(new byte[1]), 1, 1, "t",
                        NewMessage.TlsFacts.NONE)));
        assertTrue(e.getMessage().startsWith("rcpt_to:"), e.getMessage());
    }
}
