package io.tlsgate.cert.certs;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.BroadcastProcessor;
import io.tlsgate.cert.trust.TrustStore;
import io.tlsgate.platform.db.PgChangeListener;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import javax.sql.DataSource;

/**
 * The cert revision as it moves: every change to certificates, assignments or trusted CAs
 * bumps it and NOTIFYs {@code tlsgate_cert_changed} (V2__certificates.sql); this replica
 * hears it within milliseconds (or within a second's poll), so WatchBundle pushes well
 * within 2 seconds (docs/certificates.md).
 */
@ApplicationScoped
public class CertChanges {

    private final DataSource dataSource;
    private final BroadcastProcessor<Long> revisions = BroadcastProcessor.create();
    private volatile long revision = -1;
    private PgChangeListener listener;

    CertChanges(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    void start(@Observes @Priority(30) StartupEvent ignored) {
        listener = new PgChangeListener(dataSource, "tlsgate_cert_changed", TrustStore.REVISION, Duration.ofSeconds(1),
                this::seen);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (listener != null) {
            listener.close();
        }
        revisions.onComplete();
    }

    private synchronized void seen(long v) {
        if (v > revision) {
            revision = v;
            revisions.onNext(v);
        }
    }

    /** Each new revision, as this replica learns of it. */
    public Multi<Long> revisions() {
        return revisions;
    }
}
