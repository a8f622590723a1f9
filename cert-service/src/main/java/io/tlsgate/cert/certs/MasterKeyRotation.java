package io.tlsgate.cert.certs;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.cert.CertConfig;
import io.tlsgate.cert.keys.KeyVault;
import io.tlsgate.platform.db.Jdbc;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * The re-wrap job of a master-key rotation: every {@code tlsgate.cert.rewrap-interval} (and at
 * start) the private keys still sealed under a previous master key get their data key re-sealed
 * under the current one ({@link KeyVault#rewrap}), in batches, each in its own transaction.
 * Replicas may run it at once: a key another replica re-sealed first is left alone. The gauge
 * {@code tlsgate.cert.keys.previous.master} counts the keys still on an old master key; at 0
 * the old key can be removed from {@code tlsgate.cert.previous-master-keys} (docs/certificates.md).
 */
@ApplicationScoped
public class MasterKeyRotation {

    private static final Logger LOG = Logger.getLogger(MasterKeyRotation.class);
    private static final int BATCH = 100;

    private final DataSource dataSource;
    private final CertificateStore store;
    private final KeyVault vault;
    private final CertConfig config;
    private final AtomicInteger onPrevious = new AtomicInteger(-1);
    private ScheduledExecutorService timer;

    MasterKeyRotation(DataSource dataSource, CertificateStore store, KeyVault vault, CertConfig config, MeterRegistry registry) {
        this.dataSource = dataSource;
        this.store = store;
        this.vault = vault;
        this.config = config;
        registry.gauge("tlsgate.cert.keys.previous.master", onPrevious);
    }

    void start(@Observes @Priority(50) StartupEvent ignored) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "master-key-rewrap");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            try {
                rewrapAll();
            } catch (RuntimeException e) {
                LOG.warnf("re-wrapping private keys under the current master key failed: %s", e.getMessage());
            }
        }, 0, config.rewrapInterval().toMillis(), TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    /**
     * Re-seals every key still under a previous master key; returns how many this call re-sealed.
     * A key no configured master key opens is skipped (and keeps counting in the gauge).
     */
    public synchronized int rewrapAll() {
        String current = vault.masterKeyId();
        int done = 0;
        java.util.Set<String> tried = new java.util.HashSet<>();
        while (true) {
            Map<String, KeyVault.Sealed> batch = Jdbc.transaction(dataSource,
                    c -> store.sealedUnderOtherThan(c, current, BATCH + tried.size()));
            batch.keySet().removeAll(tried);
            if (batch.isEmpty()) {
                break;
            }
            for (Map.Entry<String, KeyVault.Sealed> e : batch.entrySet()) {
                tried.add(e.getKey()); // once per run, whatever happens to it
                KeyVault.Sealed to;
                try {
                    to = vault.rewrap(e.getValue(), e.getKey());
                } catch (IllegalStateException ex) {
                    LOG.warnf("cannot re-wrap the private key of '%s': %s", e.getKey(), ex.getMessage());
                    continue;
                }
                if (Jdbc.transaction(dataSource, c -> store.rewrap(c, e.getKey(), e.getValue(), to))) {
                    done++;
                }
            }
        }
        onPrevious.set(Jdbc.transaction(dataSource, c -> store.countSealedUnderOtherThan(c, current)));
        if (done > 0) {
            LOG.infof("re-wrapped %d private keys under master key %s; %d left on previous master keys", done, current,
                    onPrevious.get());
        }
        return done;
    }

    /** Keys on a previous master key at the last run (-1 before the first). */
    public int onPreviousMasterKey() {
        return onPrevious.get();
    }
}
