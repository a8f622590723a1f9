package io.tlsgate.platform.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.testkit.EmbeddedKafkaBroker;
import io.tlsgate.testkit.EmbeddedPostgresServer;
import io.tlsgate.testkit.KafkaRecords;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The outbox on a real PostgreSQL and a real broker: events written while the broker is away
 * stay in the table (none lost, none deleted), a relay of a restarted service (a new producer)
 * publishes every one of them with the id it was written with, and the table empties.
 */
class OutboxRelayTest {

    private static final String TOPIC = "tlsgate.outbox-test";
    private static Path work;
    private static EmbeddedPostgresServer postgres;
    private static DataSource ds;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("tlsgate-outbox-test");
        postgres = EmbeddedPostgresServer.start(0, work.resolve("pg"), Path.of(System.getProperty("java.io.tmpdir"),
                "tlsgate-embedded-pg"), "outbox", "outbox", "outbox-test");
        PGSimpleDataSource pg = new PGSimpleDataSource();
        pg.setUrl(postgres.jdbcUrl());
        pg.setUser(postgres.user());
        pg.setPassword(postgres.password());
        ds = pg;
        try (InputStream in = OutboxRelay.class.getResourceAsStream("/db/platform/V1__event_outbox.sql");
                Connection c = ds.getConnection(); Statement s = c.createStatement()) {
            s.execute(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    @AfterAll
    static void stop() throws Exception {
        postgres.close();
    }

    private static int rows() {
        return Jdbc.transaction(ds, c -> {
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select count(*) from event_outbox")) {
                r.next();
                return r.getInt(1);
            }
        });
    }

    private static OutboxRelay relay(String bootstrap) {
        return new OutboxRelay(config(10), Map.of("bootstrap.servers", bootstrap, "max.block.ms", "1000"),
                ds, new SimpleMeterRegistry());
    }

    @Test
    void eventsWrittenWhileTheBrokerIsAwayArePublishedOnceItIsThereWithTheirIds() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0)) {
            deadPort = s.getLocalPort();
        }
        OutboxRelay away = relay("127.0.0.1:" + deadPort);
        away.start(null);
        Outbox outbox = new Outbox(config(10), away, ds, new SimpleMeterRegistry());
        List<CloudEvent> written = new ArrayList<>();
        try {
            for (int t = 0; t < 5; t++) {
                int batch = t;
                Jdbc.transaction(ds, c -> {
                    for (int i = 0; i < 40; i++) {
                        written.add(outbox.add(c, "io.tlsgate.test", TOPIC, "k" + batch, Map.of("n", batch * 40 + i)));
                    }
                    return null;
                });
            }
            // A transaction that rolls back leaves no event behind.
            try {
                Jdbc.transaction(ds, c -> {
                    outbox.add(c, "io.tlsgate.test", TOPIC, "rolled-back", Map.of("n", -1));
                    throw new IllegalStateException("the change failed");
                });
            } catch (IllegalStateException expected) {
                // as meant
            }
            Thread.sleep(3000);
            assertEquals(200, rows(), "nothing is lost or deleted while the broker is away");
        } finally {
            away.stop(null); // as a crash would: the rows stay
        }
        assertEquals(200, rows());

        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start(work.resolve("kafka"))) {
            OutboxRelay back = relay(kafka.bootstrapServers());
            back.start(null);
            try {
                List<ConsumerRecord<String, byte[]>> got = KafkaRecords.readUntil(kafka.bootstrapServers(), TOPIC,
                        rs -> rs.size() >= 200, Duration.ofSeconds(60));
                Set<String> ids = got.stream().map(r -> KafkaRecords.header(r, CloudEvent.HEADER_ID)).collect(Collectors.toSet());
                assertEquals(written.stream().map(CloudEvent::id).collect(Collectors.toSet()), ids,
                        "every event, with the id it was written with");
                assertTrue(got.stream().noneMatch(r -> "rolled-back".equals(r.key())));
                long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (rows() > 0 && System.nanoTime() < until) {
                    Thread.sleep(50);
                }
                assertEquals(0, rows(), "published events leave the table");
            } finally {
                back.stop(null);
            }
        }
    }

    @Test
    void eventsWithoutATransactionAreWrittenByTheWriterAndAFullQueueDropsAndCounts() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0)) {
            deadPort = s.getLocalPort();
        }
        int before = rows();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Outbox idle = new Outbox(config(5), relay("127.0.0.1:" + deadPort), ds, registry);
        int accepted = 0;
        for (int i = 0; i < 8; i++) {
            if (idle.later(idle.event("io.tlsgate.test", TOPIC, "later", Map.of("n", i)))) {
                accepted++;
            }
        }
        assertEquals(5, accepted, "the queue is bounded");
        assertEquals(3, registry.counter("tlsgate.events.dropped").count(), 0.0);
        idle.start(null); // the writer empties the queue into the table
        try {
            long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (rows() < before + 5 && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            assertEquals(before + 5, rows());
            assertEquals(0, idle.waiting());
        } finally {
            idle.stop(null);
            Jdbc.transaction(ds, c -> c.createStatement().executeUpdate("delete from event_outbox where key = 'later'"));
        }
    }

    static EventsConfig config(int bufferSize) {
        return new EventsConfig() {
            @Override
            public boolean enabled() {
                return true;
            }

            @Override
            public int bufferSize() {
                return bufferSize;
            }

            @Override
            public boolean readinessRequiresBroker() {
                return false;
            }

            @Override
            public Duration readinessTimeout() {
                return Duration.ofSeconds(1);
            }

            @Override
            public String source() {
                return "/tlsgate/test";
            }
        };
    }
}
