package io.tlsgate.delivery.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * Retention on the real PostgreSQL with 100,000 finished messages: the content of those
 * finished over an hour ago is removed, the records of those finished over 30 days ago are
 * deleted (recipients and attempts with them), queued mail is never touched however old, the
 * work goes in small transactions, and a delivery claimed and recorded meanwhile goes through.
 */
@QuarkusTest
class RetentionTest {

    @Inject
    DataSource dataSource;

    @Inject
    Retention retention;

    @Inject
    MessageQueue queue;

    @Inject
    Claims claims;

    @Inject
    MeterRegistry registry;

    private long count(Statement st, String sql) throws Exception {
        try (ResultSet r = st.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }

    @Test
    void finishedMessagesLoseTheirContentThenTheirRecordsInBatchesAndQueuedMailStays() throws Exception {
        String tag = "ret" + System.nanoTime() + "@example.test";
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("with m as (insert into message (mail_from, data, size, received_at) select '" + tag + "', "
                    + "decode(repeat('78', 200), 'hex'), 200, now() - interval '40 days' from generate_series(1, 100000) returning mid) "
                    + "insert into recipient (mid, rid, address, domain) select mid, 0, 'r@ret.test', 'ret.test' from m");
            st.execute("insert into attempt (mid, rids, dcid, domain, outcome) select mid, '{0}', 0, 'ret.test', 'delivered' "
                    + "from message where mail_from = '" + tag + "'");
            // Leaving QUEUED sets finished_at (the trigger); then age them: most 2 hours, the last 10,000 31 days.
            st.execute("update recipient set state = 'DELIVERED' where mid in (select mid from message where mail_from = '" + tag + "')");
            st.execute("update message set state = 'DONE' where mail_from = '" + tag + "'");
            assertEquals(0, count(st, "select count(*) from message where mail_from = '" + tag + "' and (finished_at is null "
                    + "or finished_at < now() - interval '1 minute')"), "finished_at set when the message left QUEUED");
            st.execute("update message set finished_at = now() - interval '2 hours' where mail_from = '" + tag + "'");
            st.execute("update message set finished_at = now() - interval '31 days' where mid in (select mid from message "
                    + "where mail_from = '" + tag + "' order by mid desc limit 10000)");
            // An old message still queued, and a fresh finished one: neither is due.
            st.execute("insert into message (mail_from, data, size, received_at) values ('" + tag + "', 'kept'::bytea, 4, "
                    + "now() - interval '40 days')");
        }
        byte[] data = "Subject: x\r\n\r\nhi\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        long fresh = queue.enqueue(new NewMessage("fresh@example.test", List.of("x@fresh.test"), NewMessage.Content.of(data),
                data.length, 0, "test", NewMessage.TlsFacts.NONE));
        claimAndFinish(fresh, "before");

        // A delivery claimed and recorded while the clean-up runs goes through.
        CompletableFuture<Retention.Pass> running = CompletableFuture.supplyAsync(retention::purge);
        long during = queue.enqueue(new NewMessage("during@example.test", List.of("x@during.test"), NewMessage.Content.of(data),
                data.length, 0, "test", NewMessage.TlsFacts.NONE));
        claimAndFinish(during, "during");
        Retention.Pass pass = running.get();

        assertTrue(pass.contentRemoved() >= 90_000, pass.toString());
        assertTrue(pass.messagesDeleted() >= 10_000, pass.toString());
        assertTrue(pass.transactions() >= (90_000 + 10_000) / 500, "small transactions: " + pass);
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            String mine = "from message where mail_from = '" + tag + "'";
            assertEquals(90_001, count(st, "select count(*) " + mine), "the 31-day-old records are gone");
            assertEquals(90_000, count(st, "select count(*) " + mine + " and state = 'DONE' and content_removed_at is not null "
                    + "and length(data) = 0"), "the content of the others is gone, the records stay");
            assertEquals(1, count(st, "select count(*) " + mine + " and state = 'QUEUED' and data = 'kept'::bytea"),
                    "queued mail is never touched");
            assertEquals(0, count(st, "select count(*) from recipient r where not exists (select 1 from message m where m.mid = r.mid)"));
            assertEquals(90_000, count(st, "select count(*) from attempt a join message m on m.mid = a.mid where m.mail_from = '"
                    + tag + "'"), "attempts of deleted messages went with them");
            assertEquals(0, count(st, "select count(*) from message where mid in (" + fresh + ", " + during
                    + ") and content_removed_at is not null"), "recently finished: content kept");
        }
        assertEquals(0, retention.purge().messagesDeleted(), "nothing due twice");

        retention.measure();
        for (String t : Retention.TABLES) {
            double bytes = registry.get("tlsgate.queue.disk").tag("table", t).gauge().value();
            assertTrue(bytes > 0, t + ": " + bytes);
        }
    }

    private void claimAndFinish(long mid, String worker) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            for (Claims.Work w : claims.claim(worker, 100, Duration.ofMinutes(5))) {
                if (w.mid() == mid) {
                    assertEquals(1, claims.finish(worker, mid, w.rids(), Claims.Result.DELIVERED, "250 ok"));
                    return;
                }
                // another test's work: back at once, no attempt counted
                claims.commit(worker, new Claims.Batch().postpone(w.mid(), w.rids(), java.time.Instant.now(), null));
            }
        }
        throw new AssertionError("MID " + mid + " was never claimed");
    }
}
