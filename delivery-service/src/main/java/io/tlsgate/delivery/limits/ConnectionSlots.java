package io.tlsgate.delivery.limits;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.net.InetAddress;
import io.tlsgate.platform.db.Jdbc;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * maxConcurrentConnections, enforced: a permit per connection, taken before it connects and
 * given back when its socket closes (an idle pooled connection keeps its permit).
 *
 * <p>Per replica (limitsScope VIRTUAL_GATEWAY) the count is in memory. For the whole cluster
 * (SYSTEM) each permit is a row in {@code connection_slot}: slot numbers 0..limit-1 per
 * destination key, taken one taker at a time per key (an advisory lock) with an INSERT .. ON
 * CONFLICT that only succeeds on a free or expired slot, so two replicas can never hold the
 * same slot. Each replica renews its rows every third
 * of {@code tlsgate.delivery.slot-lease}; a replica that dies (kill -9) closes its sockets with
 * its process and its rows expire after the lease, so the limit holds throughout: until then
 * the others wait.
 */
@ApplicationScoped
public class ConnectionSlots {

    private static final Logger LOG = Logger.getLogger(ConnectionSlots.class);

    private static final String TAKE = "insert into connection_slot (key, slot, holder, expires_at) "
            + "select ?, s, ?, now() + make_interval(secs => ?) from generate_series(0, ? - 1) s "
            + "where not exists (select 1 from connection_slot c where c.key = ? and c.slot = s and c.expires_at > now()) "
            + "order by s limit 1 "
            + "on conflict (key, slot) do update set holder = excluded.holder, expires_at = excluded.expires_at "
            + "where connection_slot.expires_at <= now() returning slot";

    private final DataSource dataSource;
    private final Vertx vertx;
    private final Duration lease;
    private final String holder = "slots-" + UUID.randomUUID();
    private final Map<String, AtomicInteger> local = new ConcurrentHashMap<>();
    private final AtomicInteger shared = new AtomicInteger();
    private ScheduledExecutorService renewer;

    ConnectionSlots(DataSource dataSource, Vertx vertx,
            @ConfigProperty(name = "tlsgate.delivery.slot-lease", defaultValue = "30s") Duration lease) {
        this.dataSource = dataSource;
        this.vertx = vertx;
        this.lease = lease;
    }

    void start(@Observes StartupEvent ignored) {
        renewer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "delivery-slot-renewer");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(1, lease.toMillis() / 3);
        renewer.scheduleWithFixedDelay(this::renew, every, every, TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (renewer != null) {
            renewer.shutdownNow();
        }
        // Connections still open are closed with the process; their slots go with it.
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("delete from connection_slot where holder = ?")) {
            ps.setString(1, holder);
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.debugf("connection slots left to expire: %s", e.getMessage());
        }
    }

    /** The gate for one domain's connections under its limits. */
    public SmtpDeliveryAttempt.Gate gate(String domain, DestinationLimits limits) {
        if (limits.connections() == Integer.MAX_VALUE) {
            return SmtpDeliveryAttempt.Gate.OPEN;
        }
        return t -> {
            String key = limits.key(domain, address(t.host()));
            String refused = "concurrency limit reached: " + limits.connections() + " connection(s) at once to "
                    + key.substring(key.indexOf(':') + 1) + " (" + limits.scope() + ")";
            if (!limits.cluster()) {
                AtomicInteger n = local.computeIfAbsent(key, k -> new AtomicInteger());
                if (n.incrementAndGet() > limits.connections()) {
                    n.decrementAndGet();
                    return Future.failedFuture(new SmtpDeliveryAttempt.LimitReached(refused));
                }
                return Future.succeededFuture(n::decrementAndGet);
            }
            return vertx.executeBlocking(() -> take(key, limits.connections()), false).compose(slot -> slot < 0
                    ? Future.failedFuture(new SmtpDeliveryAttempt.LimitReached(refused))
                    : Future.succeededFuture(() -> vertx.executeBlocking(() -> {
                        give(key, slot);
                        return null;
                    }, false)));
        };
    }

    /** Connections open now under a per-replica limit for {@code key} (tests and metrics). */
    public int localCount(String key) {
        AtomicInteger n = local.get(key);
        return n == null ? 0 : n.get();
    }

    /**
     * A free slot of {@code key} for this replica, or -1 when all {@code max} are taken. Takers
     * of one key go one at a time (a transaction-scoped advisory lock on the key): without it,
     * concurrent takers all reach for the same lowest free slot, all but one lose, and a burst
     * of new connections is refused while slots are free.
     */
    int take(String key, int max) {
        int slot = Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement lock = c.prepareStatement("select pg_advisory_xact_lock(hashtext(?))")) {
                lock.setString(1, "connection_slot " + key);
                lock.executeQuery().close();
            }
            try (PreparedStatement ps = c.prepareStatement(TAKE)) {
                ps.setString(1, key);
                ps.setString(2, holder);
                ps.setDouble(3, lease.toMillis() / 1000.0);
                ps.setInt(4, max);
                ps.setString(5, key);
                try (ResultSet r = ps.executeQuery()) {
                    return r.next() ? r.getInt(1) : -1;
                }
            }
        });
        if (slot >= 0) {
            shared.incrementAndGet();
        }
        return slot;
    }

    void give(String key, int slot) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("delete from connection_slot where key = ? and slot = ? and holder = ?")) {
            ps.setString(1, key);
            ps.setInt(2, slot);
            ps.setString(3, holder);
            ps.executeUpdate();
            shared.decrementAndGet();
        } catch (SQLException e) {
            LOG.warnf("connection slot %s/%d left to expire: %s", key, slot, e.getMessage());
        }
    }

    private void renew() {
        if (shared.get() <= 0) {
            return;
        }
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(
                "update connection_slot set expires_at = now() + make_interval(secs => ?) where holder = ?")) {
            ps.setDouble(1, lease.toMillis() / 1000.0);
            ps.setString(2, holder);
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.warnf("could not renew connection slots: %s", e.getMessage());
        }
    }

    private static InetAddress address(String ip) {
        try {
            return InetAddress.getByName(ip); // a literal: no lookup
        } catch (java.net.UnknownHostException e) {
            return null;
        }
    }
}
