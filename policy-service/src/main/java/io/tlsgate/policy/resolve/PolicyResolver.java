package io.tlsgate.policy.resolve;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.BroadcastProcessor;
import io.tlsgate.core.destination.DestinationIndex;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.EffectivePolicy;
import io.tlsgate.core.inbound.InboundIndex;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.db.PgChangeListener;
import io.tlsgate.policy.PolicyConfig;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
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
    private final PolicyVersionStore versions;
    private final DestinationTable destinations;
    private final InboundTables inboundTables;
    private final PolicyConfig config;
    private final BroadcastProcessor<Long> changes = BroadcastProcessor.create();
    private volatile Snapshot current;
    private PgChangeListener listener;

    PolicyResolver(DataSource dataSource, PolicyVersionStore versions, DestinationTable destinations,
            InboundTables inboundTables, PolicyConfig config) {
        this.dataSource = dataSource;
        this.versions = versions;
        this.destinations = destinations;
        this.inboundTables = inboundTables;
        this.config = config;
    }

    void start(@Observes @Priority(10) StartupEvent ignored) {
        reload();
        listener = new PgChangeListener(dataSource, CHANNEL, PolicyVersionStore.VERSION, config.pollInterval(),
                this::reloadIfNewer);
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
        Snapshot before = current;
        long t0 = System.nanoTime();
        Snapshot next = Jdbc.snapshot(dataSource, c -> {
            PolicyVersionStore.Versions v = versions.versions(c);
            if (before != null && v.version() <= before.version()) {
                return null;
            }
            DestinationIndex index = before != null && before.destinationsVersion() == v.destinations() ? before.index()
                    : DestinationIndex.of(destinations.loadAll(c));
            return new Snapshot(index, v.destinations(), inboundTables.load(c), v.version());
        });
        if (next == null) {
            return;
        }
        current = next;
        LOG.debugf("policy at version %d: %d destination entries (%s), %d listeners in %d ms", next.version(),
                next.index().size(), before != null && before.index() == next.index() ? "kept" : "rebuilt",
                next.inbound().listeners().size(), (System.nanoTime() - t0) / 1_000_000);
        changes.onNext(next.version());
    }

    /** An IP literal, with or without brackets; null when it is not one. */
    public static byte[] address(String raw) {
        String h = raw.strip();
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return DestinationKey.parseAddress(h);
    }
}
