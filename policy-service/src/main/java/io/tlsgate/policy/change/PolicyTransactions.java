package io.tlsgate.policy;

import io.tlsgate.policy.audit.AuditEntry;
import io.tlsgate.policy.audit.AuditLog;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/**
 * Runs a policy change in one transaction with its audit entries, then, after the commit,
 * publishes the audit events and brings this replica's resolver up to the new version
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

    private final DataSource dataSource;
    private final AuditLog auditLog;
    private final PolicyResolver resolver;
    private final com.fasterxml.jackson.databind.ObjectMapper json;

    PolicyTransactions(DataSource dataSource, AuditLog auditLog, PolicyResolver resolver,
            com.fasterxml.jackson.databind.ObjectMapper json) {
        this.dataSource = dataSource;
        this.auditLog = auditLog;
        this.resolver = resolver;
        this.json = json;
    }

    public <T> T change(ChangeContext who, Work<T> work) {
        List<AuditEntry> entries = new ArrayList<>();
        T result;
        long version;
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                result = work.run(c, (action, entity, before, after) -> entries.add(auditLog.record(c, who.principal(),
                        action, entity, before == null ? null : json.valueToTree(before),
                        after == null ? null : json.valueToTree(after), who.comment())));
                version = PolicyResolver.readVersion(c);
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("policy change failed: " + e.getMessage(), e);
        }
        entries.forEach(auditLog::publish);
        resolver.reloadIfNewer(version);
        return result;
    }

    /** A read in one consistent snapshot. */
    public <T> T read(Work<T> work) {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            T r = work.run(c, (a, e, b, af) -> {
                throw new IllegalStateException("read-only");
            });
            c.commit();
            return r;
        } catch (SQLException e) {
            throw new IllegalStateException("policy read failed: " + e.getMessage(), e);
        }
    }
}
