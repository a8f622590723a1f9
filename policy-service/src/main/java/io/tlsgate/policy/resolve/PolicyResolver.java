package io.tlsgate.policy;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.BroadcastProcessor;
import io.tlsgate.core.destination.DestinationIndex;
import io.tlsgate.core.destination.EffectivePolicy;
import io.tlsgate.core.inbound.InboundIndex;
import io.tlsgate.platform.db.PgChangeListener;
import io.tlsgate.policy.destination.DestinationStore;
import io.tlsgate.policy.inbound.InboundStore;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Answers "which policy applies?" from in-memory snapshots, rebuilt from PostgreSQL whenever
 * the policy version moves: the {@link DestinationIndex} (outbound, possibly a million
 * entries; rebuilt only when the destination table changed) and the {@link InboundIndex}
 * (listeners, sender groups, mail flow policies, RAT, routes; small, rebuilt on every change).
 * Every change bumps the version and sends {@code NOTIFY tlsgate_policy_changed} in its
 * transaction; each replica LISTENs on a dedicated connection and reloads as soon as the
 * notification arrives (milliseconds after the commit), and also polls the version every
 * {@code tlsgate.policy.poll-interval} in case a notification was missed while its connection
 * was down. The replica that made a change reloads before answering the request, so a client
 * reads its own writes.
 */
@ApplicationScoped
public class PolicyResolver {

    private static final Logger LOG = Logger.getLogger(PolicyResolver.class);
    static final String CHANNEL = "tlsgate_policy_changed";

    private record Snapshot(DestinationIndex index, long destinationsVersion, InboundIndex inbound, long version) {}

    private final DataSource dataSource;
    private final DestinationStore store;
    private final InboundStore inboundStore;
    private final PolicyConfig config;
    private final BroadcastProcessor<Long> changes = BroadcastProcessor.create();
    private volatile Snapshot current;
    private PgChangeListener listener;

    PolicyResolver(DataSource dataSource, DestinationStore store, InboundStore inboundStore, PolicyConfig config) {
        this.dataSource = dataSource;
        this.store = store;
        this.inboundStore = inboundStore;
        this.config = config;
    }

    void start(@Observes @Priority(10) StartupEvent ignored) {
        reload();
        listener = new PgChangeListener(dataSource, CHANNEL, "select version from policy_version where id = 1",
                config.pollInterval(), this::reloadIfNewer);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (listener != null) {
            listener.close();
        }
        changes.onComplete();
    }

    /** The effective policy for a normalised domain and/or address bytes. */
    public EffectivePolicy resolve(String normalisedDomain, byte[] address) {
        return current.index().resolveNormalised(normalisedDomain, address);
    }

    /** The inbound policy snapshot. */
    public InboundIndex inbound() {
        return current.inbound();
    }

    /** The policy version the index reflects. */
    public long version() {
        return current.version();
    }

    /** Each new policy version, as it is loaded (for WatchChanges). */
    public Multi<Long> changes() {
        return changes;
    }

    /** Reloads when {@code version} is newer than what the index reflects. */
    public void reloadIfNewer(long version) {
        Snapshot s = current;
        if (s == null || version > s.version()) {
            reload();
        }
    }

    /** Rebuilds the snapshots from one consistent read of the tables and the version. */
    public synchronized void reload() {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            long[] v = readVersions(c);
            Snapshot before = current;
            if (before != null && v[0] <= before.version()) {
                c.commit();
                return;
            }
            long t0 = System.nanoTime();
            DestinationIndex index = before != null && before.destinationsVersion() == v[1] ? before.index()
                    : DestinationIndex.of(store.loadAll(c));
            InboundIndex inbound = inboundStore.load(c);
            c.commit();
            current = new Snapshot(index, v[1], inbound, v[0]);
            LOG.debugf("policy at version %d: %d destination entries (%s), %d listeners in %d ms", v[0], index.size(),
                    before != null && before.index() == index ? "kept" : "rebuilt", inbound.listeners().size(),
                    (System.nanoTime() - t0) / 1_000_000);
            changes.onNext(v[0]);
        } catch (SQLException e) {
            throw new IllegalStateException("could not load policy", e);
        }
    }

    private static long[] readVersions(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "select version, destinations_version from policy_version where id = 1");
                ResultSet r = ps.executeQuery()) {
            r.next();
            return new long[] {r.getLong(1), r.getLong(2)};
        }
    }

    /** The committed policy version as seen by {@code c}. */
    public static long readVersion(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select version from policy_version where id = 1");
                ResultSet r = ps.executeQuery()) {
            r.next();
            return r.getLong(1);
        }
    }

}
