package io.tlsgate.cert.certs;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.cert.CertConfig;
import io.tlsgate.core.events.EventTypes;
import io.tlsgate.core.events.Topics;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.events.Outbox;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jboss.logging.Logger;

/**
 * Publishes {@code io.tlsgate.cert.expiring} to {@code tlsgate.tls-alerts} for every
 * certificate that expires within {@code tlsgate.cert.expiry-warning-days} (or has expired),
 * at most once per certificate per UTC day across all replicas (a row in
 * {@code expiry_alert} is claimed first). Checked at start and every
 * {@code tlsgate.cert.expiry-check-interval}.
 */
@ApplicationScoped
public class ExpiryAlerts {

    private static final Logger LOG = Logger.getLogger(ExpiryAlerts.class);

    private final DataSource dataSource;
    private final CertificateStore store;
    private final ExpiryAlertStore alertStore;
    private final Outbox outbox;
    private final CertConfig config;
    private ScheduledExecutorService timer;

    ExpiryAlerts(DataSource dataSource, CertificateStore store, ExpiryAlertStore alertStore, Outbox outbox, CertConfig config) {
        this.dataSource = dataSource;
        this.store = store;
        this.alertStore = alertStore;
        this.outbox = outbox;
        this.config = config;
    }

    void start(@Observes @Priority(40) StartupEvent ignored) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cert-expiry-check");
            t.setDaemon(true);
            return t;
        });
        long every = config.expiryCheckInterval().toMillis();
        timer.scheduleWithFixedDelay(() -> {
            try {
                check(Instant.now());
            } catch (RuntimeException e) {
                LOG.warnf("certificate expiry check failed: %s", e.toString());
            }
        }, 0, every, TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    /** Checks every certificate now; returns the names alerted this time. */
    public List<String> check(Instant now) {
        LocalDate day = LocalDate.ofInstant(now, ZoneOffset.UTC);
        List<Map<String, Object>> alerts = Jdbc.transaction(dataSource, c -> {
            List<Map<String, Object>> out = new ArrayList<>();
            Map<String, String> assigned = store.assignments(c);
            for (StoredCertificate s : store.all(c)) {
                Instant notAfter = s.leaf().getNotAfter().toInstant();
                long days = java.time.Duration.between(now, notAfter).toDays();
                if (notAfter.isAfter(now.plus(java.time.Duration.ofDays(config.expiryWarningDays())))) {
                    continue;
                }
                if (!alertStore.claim(c, s.name(), day)) {
                    continue; // alerted today already (here or on another replica)
                }
                Map<String, Object> a = new LinkedHashMap<>();
                a.put("certificate", s.name());
                a.put("subject", s.leaf().getSubjectX500Principal().getName());
                a.put("notAfter", notAfter.toString());
                a.put("daysToExpiry", days);
                a.put("expired", now.isAfter(notAfter));
                a.put("status", CertificateView.status(s, now).name());
                a.put("assignedTo", assigned.entrySet().stream().filter(e -> e.getValue().equals(s.name()))
                        .map(Map.Entry::getKey).toList());
                // The alert is written with the day's claim: both commit, or neither does.
                outbox.add(c, EventTypes.CERT_EXPIRING, Topics.TLS_ALERTS, s.name(), a);
                out.add(a);
            }
            return out;
        });
        List<String> names = new ArrayList<>();
        for (Map<String, Object> a : alerts) {
            String name = (String) a.get("certificate");
            LOG.warnf("certificate %s expires %s (%d days), assigned to %s", name, a.get("notAfter"), a.get("daysToExpiry"),
                    a.get("assignedTo"));
            names.add(name);
        }
        return names;
    }
}
