package io.tlsgate.platform.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.LongConsumer;
import javax.sql.DataSource;
import org.jboss.logging.Logger;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * Follows a version counter that a trigger bumps and announces with {@code NOTIFY channel}:
 * a daemon thread LISTENs on its own connection, reads the counter on every notification (and
 * every {@code poll} in case one was missed while reconnecting), and calls {@code onVersion}
 * with each value it reads, from that thread. Reconnects after a second when the database
 * goes away.
 */
public final class PgChangeListener implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(PgChangeListener.class);

    private final DataSource dataSource;
    private final String channel;
    private final String versionQuery;
    private final Duration poll;
    private final LongConsumer onVersion;
    private final Thread thread;
    private volatile boolean running = true;

    /**
     * @param versionQuery SQL returning the counter as one bigint
     */
    public PgChangeListener(DataSource dataSource, String channel, String versionQuery, Duration poll,
            LongConsumer onVersion) {
        if (!channel.matches("[a-z_][a-z0-9_]*")) {
            throw new IllegalArgumentException("bad channel name " + channel);
        }
        this.dataSource = dataSource;
        this.channel = channel;
        this.versionQuery = versionQuery;
        this.poll = poll;
        this.onVersion = onVersion;
        this.thread = new Thread(this::listen, channel + "-listener");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
    }

    private void listen() {
        while (running) {
            try (Connection c = dataSource.getConnection()) {
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN " + channel);
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                onVersion.accept(read(c)); // anything missed while not listening
                long lastPoll = System.nanoTime();
                while (running) {
                    PGNotification[] ns = pg.getNotifications(500);
                    boolean due = System.nanoTime() - lastPoll > poll.toNanos();
                    if ((ns != null && ns.length > 0) || due) {
                        onVersion.accept(read(c));
                        lastPoll = System.nanoTime();
                    }
                }
            } catch (Exception e) {
                if (!running) {
                    return;
                }
                LOG.warnf("%s listener: %s; retrying in 1s", channel, e.toString());
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    private long read(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(versionQuery); ResultSet r = ps.executeQuery()) {
            r.next();
            return r.getLong(1);
        }
    }
}
