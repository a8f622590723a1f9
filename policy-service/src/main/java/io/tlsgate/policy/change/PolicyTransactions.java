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

    public <T> T change(ChangeContext who, Work<T> work) {
        Committed<T> done = Jdbc.transaction(dataSource, c -> {
            T result = work.run(c, (action, entity, before, after) -> auditLog.record(c, who.principal(),
                    action, entity, before == null ? null : json.valueToTree(before),
                    after == null ? null : json.valueToTree(after), who.comment()));
            return new Committed<>(result, versions.version(c));
        });
        resolver.reloadIfNewer(done.version());
        return done.result();
    }

    /** A read in one consistent snapshot. */
    public <T> T read(Work<T> work) {
        return Jdbc.snapshot(dataSource, c -> {
            return work.run(c, (a, e, b, af) -> {
                throw new IllegalStateException("read-only");
            });
        });
    }
}
