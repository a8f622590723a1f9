package io.tlsgate.policy.change;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.audit.AuditLog;
import io.tlsgate.policy.resolve.PolicyResolver;
import io.tlsgate.policy.resolve.PolicyVersionStore;
import io.tlsgate.policy.web.ChangeContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;

/**
 * Runs a policy change in one transaction with its audit entries and their events, then, after
 * the commit, brings this replica's resolver up to the new version
 * (other replicas follow through NOTIFY). A failure rolls everything back: a rejected
 * change changes nothing.
 */
@ApplicationScoped
public class PolicyTransactions {

    /** The work of a change: SQL in {@code c}, audit entries through {@code audit}. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Connection c, Auditor audit) throws SQLException;
    }

    /** Records audit entries inside the change's transaction. */
    public interface Auditor {
        void record(String action, String entity, Object before, Object after) throws SQLException;
    }

    private record Committed<T>(T result, long version) {}

    private final DataSource dataSource;
    private final AuditLog auditLog;
    private final PolicyResolver resolver;
    private final PolicyVersionStore versions;
    private final ObjectMapper json;

    PolicyTransactions(DataSource dataSource, AuditLog auditLog, PolicyResolver resolver, PolicyVersionStore versions,
            ObjectMapper json) {
        this.dataSource = dataSource;
        this.auditLog = auditLog;
        this.resolver = resolver;
        this.versions = versions;
        this.json = json;
    }

    /** The connection of the all-or-nothing change this thread is in ({@link #allOrNothing}), if any. */
    private final ThreadLocal<Connection> outer = new ThreadLocal<>();

    public <T> T change(ChangeContext who, Work<T> work) {
        Connection joined = outer.get();
        if (joined != null) {
            return nested(joined, who, work);
        }
        Committed<T> done = Jdbc.transaction(dataSource, c -> {
            T result = work.run(c, (action, entity, before, after) -> auditLog.record(c, who.principal(),
                    action, entity, before == null ? null : json.valueToTree(before),
                    after == null ? null : json.valueToTree(after), who.comment()));
            return new Committed<>(result, versions.version(c));
        });
        resolver.reloadIfNewer(done.version());
        return done.result();
    }

    /**
     * Runs {@code body}, whose changes ({@link #change}, from any service on this thread) all
     * go into one transaction: committed when {@code body} returns true, else rolled back (a
     * check, or a failure). Each change in it is undone alone when it fails (a savepoint), so
     * that the body can go on and report every failure. Reads in it see its changes.
     */
    public boolean allOrNothing(java.util.function.BooleanSupplier body) {
        if (outer.get() != null) {
            throw new IllegalStateException("all-or-nothing changes do not nest");
        }
        long version = Jdbc.transaction(dataSource, c -> {
            outer.set(c);
            try {
                if (!body.getAsBoolean()) {
                    c.rollback();
                    return -1L;
                }
                return versions.version(c);
            } finally {
                outer.remove();
            }
        });
        if (version >= 0) {
            resolver.reloadIfNewer(version);
        }
        return version >= 0;
    }

    /** Runs {@code body} with every read in it ({@link #read}, from any service on this thread) in one snapshot. */
    public <T> T snapshot(java.util.function.Supplier<T> body) {
        if (outer.get() != null) {
            return body.get();
        }
        return Jdbc.snapshot(dataSource, c -> {
            outer.set(c);
            try {
                return body.get();
            } finally {
                outer.remove();
            }
        });
    }

    private <T> T nested(Connection c, ChangeContext who, Work<T> work) {
        try {
            java.sql.Savepoint sp = c.setSavepoint();
            try {
                T result = work.run(c, (action, entity, before, after) -> auditLog.record(c, who.principal(),
                        action, entity, before == null ? null : json.valueToTree(before),
                        after == null ? null : json.valueToTree(after), who.comment()));
                c.releaseSavepoint(sp);
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback(sp);
                throw e;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("policy change failed: " + e.getMessage(), e);
        }
    }

    /** A read in one consistent snapshot (within an all-or-nothing change: in it, seeing its changes). */
    public <T> T read(Work<T> work) {
        Connection joined = outer.get();
        if (joined != null) {
            try {
                return work.run(joined, (a, e, b, af) -> {
                    throw new IllegalStateException("read-only");
                });
            } catch (SQLException e) {
                throw new IllegalStateException("policy read failed: " + e.getMessage(), e);
            }
        }
        return Jdbc.snapshot(dataSource, c -> {
            return work.run(c, (a, e, b, af) -> {
                throw new IllegalStateException("read-only");
            });
        });
    }
}
