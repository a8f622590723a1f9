package io.tlsgate.delivery.queue;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import javax.sql.DataSource;
import org.jboss.logging.Logger;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * Wakes idle delivery workers when a message is committed, in this replica or any other:
 * {@link MessageQueue#enqueue} sends PostgreSQL {@code NOTIFY tlsgate_queue} in its
 * transaction, and one thread per replica holds a connection that {@code LISTEN}s for it.
 * Workers wait in {@link #await} for at most their poll interval, so work that becomes due
 * later (a retry) or a lost listening connection only costs that interval.
 */
@ApplicationScoped
public class QueueSignal {

    static final String CHANNEL = "tlsgate_queue";
    private static final Logger LOG = Logger.getLogger(QueueSignal.class);

    private final DataSource dataSource;
    private final Object monitor = new Object();
    /** Bumped on every signal; a waiter returns when it changed since it started waiting. */
    private long generation;
    private volatile boolean running;
    private Thread listener;

    QueueSignal(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    void start(@Observes StartupEvent ignored) {
        running = true;
        listener = new Thread(this::listen, "delivery-queue-listen");
        listener.setDaemon(true);
        listener.start();
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        if (listener != null) {
            listener.interrupt();
        }
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    /** Waits until new work was committed somewhere, or {@code max} passed. */
    public void await(Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        synchronized (monitor) {
            long seen = generation;
            long left;
            while (generation == seen && running && (left = deadline - System.nanoTime()) > 0) {
                monitor.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    /**
     * Wakes one waiting worker. One, not all: workers claiming at the same instant would split
     * one message's recipients between them (each skips the rows the other locked); a worker
     * that found work calls this again, so more join while there is more.
     */
    public void fire() {
        synchronized (monitor) {
            generation++;
            monitor.notify();
        }
    }

    private void listen() {
        while (running) {
            try (Connection c = dataSource.getConnection()) {
                c.setAutoCommit(true);
                try (Statement st = c.createStatement()) {
                    st.execute("listen " + CHANNEL);
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                while (running) {
                    PGNotification[] got = pg.getNotifications(1000);
                    if (got != null && got.length > 0) {
                        fire();
                    }
                }
            } catch (SQLException e) {
                if (running) {
                    LOG.warnf("not listening for new work (%s): workers poll until it is back", e.getMessage());
                    try {
                        Thread.sleep(2000);
                    } catch (InterruptedException stop) {
                        return;
                    }
                }
            }
        }
    }
}
