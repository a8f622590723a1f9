package io.tlsgate.listener.instance;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.listener.ListenerConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.net.InetAddress;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Registers this replica in the {@code listener} schema at start, refreshes its heartbeat
 * periodically and removes it at a clean stop. A missed heartbeat is logged, never fatal: the
 * SMTP service keeps running while PostgreSQL is away.
 */
@ApplicationScoped
public class InstanceRegistry {

    private static final Logger LOG = Logger.getLogger(InstanceRegistry.class);

    private final DataSource dataSource;
    private final ListenerConfig config;
    private final UUID id = UUID.randomUUID();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "listener-heartbeat");
        t.setDaemon(true);
        return t;
    });

    InstanceRegistry(DataSource dataSource, ListenerConfig config) {
        this.dataSource = dataSource;
        this.config = config;
    }

    void start(@Observes StartupEvent ignored) {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            host = "unknown";
        }
        update("insert into instance (id, host) values (?, ?)", host);
        long every = config.heartbeatInterval().toMillis();
        timer.scheduleAtFixedRate(this::heartbeat, every, every, TimeUnit.MILLISECONDS);
        LOG.infof("listener-service instance %s registered", id);
    }

    void stop(@Observes ShutdownEvent ignored) {
        timer.shutdownNow();
        try {
            update("delete from instance where id = ?", null);
        } catch (RuntimeException e) {
            LOG.warnf("could not unregister instance %s: %s", id, e.getMessage());
        }
    }

    /** Records that this replica is alive now. */
    public void heartbeat() {
        try {
            update("update instance set heartbeat_at = now() where id = ?", null);
        } catch (RuntimeException e) {
            LOG.warnf("heartbeat of instance %s not recorded: %s", id, e.getMessage());
        }
    }

    /** Every registered replica, newest first. */
    public List<Instance> all() {
        long staleAfterMs = config.heartbeatInterval().toMillis() * 3;
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement(
                        "select id, host, started_at, heartbeat_at, now() as db_now from instance order by started_at desc");
                ResultSet r = ps.executeQuery()) {
            List<Instance> out = new ArrayList<>();
            while (r.next()) {
                UUID rowId = r.getObject("id", UUID.class);
                Instant beat = r.getTimestamp("heartbeat_at").toInstant();
                Instant now = r.getTimestamp("db_now").toInstant();
                out.add(new Instance(rowId, r.getString("host"), r.getTimestamp("started_at").toInstant(), beat,
                        now.toEpochMilli() - beat.toEpochMilli() <= staleAfterMs, rowId.equals(id)));
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the instance registry", e);
        }
    }

    /** This replica's id. */
    public UUID id() {
        return id;
    }

    private void update(String sql, String host) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setObject(1, id);
            if (host != null) {
                ps.setString(2, host);
            }
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }
}
