package io.tlsgate.delivery.schedule;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.delivery.events.TlsEvents;
import io.tlsgate.delivery.limits.ConcurrencyWindow;
import io.tlsgate.delivery.limits.ConnectionSlots;
import io.tlsgate.delivery.limits.RecipientRate;
import io.tlsgate.delivery.queue.Attempts;
import io.tlsgate.delivery.queue.Claims;
import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.QueueSignal;
import io.tlsgate.delivery.queue.QueueUnavailableException;
import io.tlsgate.delivery.smtp.DomainDelivery;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.tlsgate.delivery.dane.Dane;
import io.tlsgate.delivery.sts.MtaSts;
import io.tlsgate.delivery.upstream.CertClient;
import io.tlsgate.delivery.upstream.PolicyClient;
import io.tlsgate.platform.dns.MxResolver;
import io.tlsgate.platform.tls.TlsEngine;
import io.vertx.core.Future;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * The delivery scheduler. One dispatcher thread claims due recipients (grouped by message and
 * domain, leased, see {@link Claims}) while there is room in hand, and hands each domain's group
 * to {@link GroupDelivery} on a small pool of threads for the steps that block briefly
 * (policy-service and cert-service calls, DNS, the database). The SMTP sessions themselves run
 * on the Vert.x event loop ({@link DomainDelivery#start}): no thread waits on a socket, so a
 * destination that hangs or tarpits holds only its own connections, never the other domains'
 * deliveries. Keeps the leases of the work in hand renewed and looks for work again when a
 * group finishes, a message is committed (NOTIFY) or work a limit held back falls due.
 */
@ApplicationScoped
public class Scheduler {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");

    private final DeliveryConfig config;
    private final Claims claims;
    private final QueueSignal signal;
    private final Settlement settlement;
    private final String worker = host() + "-" + UUID.randomUUID().toString().substring(0, 8);
    /** Claimed work in hand (its leases are renewed), each released once it is recorded. */
    private final Set<Claims.Work> holding = ConcurrentHashMap.newKeySet();
    /** Room for claimed work: recipients groups in hand at once (tlsgate.delivery.max-in-flight). */
    private final Semaphore room;
    /** Domains whose concurrency limit refused a connection just now, until when: not claimed meanwhile. */
    private final Map<String, Instant> limited = new ConcurrentHashMap<>();
    private final ExecutorService blocking;
    private final ScheduledExecutorService timers;
    private final GroupDelivery groups;
    /** Slow start per destination domain; its crowded domains are not claimed meanwhile. */
    private final ConcurrencyWindow window;
    private Thread dispatcher;
    private final TlsEngine engine;
    private volatile boolean running;
    /** Null when MTA-STS is off. */
    private final MtaSts mtaSts;
    private final PolicyClient policy;
    private final CertClient certs;
    /** What each domain's delivery must follow (the TLS check asks it too). */
    private final DomainRules rules;
    private final String heloName;

    Scheduler(DeliveryConfig config, Claims claims, MessageQueue queue, Attempts attempts, PolicyClient policy, CertClient certs,
            TlsEvents events, QueueSignal signal, ConnectionSlots slots, RecipientRate rate, io.vertx.core.Vertx vertx,
            io.tlsgate.platform.dns.DnsResolver dns, javax.sql.DataSource dataSource,
            io.tlsgate.delivery.events.DeliveryMetrics metrics, io.tlsgate.platform.bounce.BounceVerification bounceTags) {
        this.config = config;
        this.claims = claims;
        this.signal = signal;
        this.engine = config.tlsEngine().usable("tlsgate.delivery.tls-engine");
        DomainDelivery delivery = new DomainDelivery(vertx, new MxResolver(dns), config.smtpPort(), attempts::nextDcid,
                new DomainDelivery.Limits(config.mxHostLimit(), config.connectionLimit(), config.domainDeadline(),
                        config.mxLocalAddresses(), new SmtpDeliveryAttempt.Timeouts(config.connectTimeout(),
                                config.replyTimeout(), config.dataTimeout(), config.handshakeTimeout(), null),
                        config.connectionIdle(), engine));
        String heloName = config.heloName().orElse(host());
        this.settlement = new Settlement(claims, queue, worker, heloName, metrics);
        this.room = new Semaphore(config.maxInFlight());
        // The threads start with the first task: none when the scheduler is off.
        AtomicInteger n = new AtomicInteger();
        this.blocking = Executors.newFixedThreadPool(config.workers(), r -> {
            Thread t = new Thread(r, "delivery-worker-" + n.getAndIncrement());
            t.setDaemon(true);
            return t;
        });
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "delivery-timers");
            t.setDaemon(true);
            return t;
        });
        this.window = new ConcurrencyWindow(config.initialDestinationConcurrency());
        DeliveryConfig.MtaSts sts = config.mtaSts();
        this.mtaSts = !sts.enabled() ? null : new MtaSts(dns, dataSource, new MtaSts.Settings(sts.httpsPort(), sts.fetchTimeout(),
                sts.maxPolicySize(), sts.checkInterval(), sts.refreshBefore(), config.mxLocalAddresses()));
        this.policy = policy;
        this.certs = certs;
        this.heloName = heloName;
        this.rules = new DomainRules(policy, certs, delivery, mtaSts, dane(config.dane(), dns.settings(), dataSource));
        this.groups = new GroupDelivery(queue, rules,
                rate, slots, window, delivery,
                settlement, events, heloName, config.maxContentInFlight(), blocking, this::wakeAt, limited::put, bounceTags);
    }

    /** What each domain's delivery must follow: the same for the TLS check. */
    public DomainRules rules() {
        return rules;
    }

    /** The name this gateway gives in EHLO. */
    public String heloName() {
        return heloName;
    }

    /** DANE's layer, or null when it is off; its validating resolver asks the resolvers of {@code tlsgate.dns.*}. */
    private static Dane dane(DeliveryConfig.Dane d, io.tlsgate.platform.dns.DnsResolver.Settings dns,
            javax.sql.DataSource dataSource) {
        if (!d.enabled()) {
            return null;
        }
        String anchors;
        try {
            anchors = d.trustAnchors().isPresent() ? java.nio.file.Files.readString(java.nio.file.Path.of(d.trustAnchors().get()))
                    : new String(Scheduler.class.getResourceAsStream("/dane/root-anchors.txt").readAllBytes(),
                            java.nio.charset.StandardCharsets.US_ASCII);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("tlsgate.delivery.dane.trust-anchors: " + e.getMessage(), e);
        }
        return new Dane(dns, new Dane.Settings(anchors, d.probeEvery()), dataSource);
    }

    /** Fetches the MTA-STS policies about to expire again (on a worker: it waits for DNS, HTTPS and cert-service). */
    private void refreshMtaSts() {
        try {
            io.tlsgate.proto.policy.v1.OutboundSettings s = policy.settings();
            int n = mtaSts.refreshDue(() -> certs.material(s.getCertificateSlot(), s.getTrustedCaMode()).trust().anchors());
            if (n > 0) {
                LOG.debugf("MTA-STS: %d cached policies looked at before they expire", n);
            }
        } catch (RuntimeException e) {
            LOG.warnf("MTA-STS policies not refreshed this round: %s", e.getMessage());
        }
    }

    /** Looks for due work again at {@code when} (work a limit held back falls due then). */
    private void wakeAt(Instant when) {
        timers.schedule(signal::fire, Math.max(0, Duration.between(Instant.now(), when).toMillis()), TimeUnit.MILLISECONDS);
    }

    void start(@Observes StartupEvent ignored) {
        if (!config.schedulerEnabled()) {
            LOG.info("delivery scheduler is off (tlsgate.delivery.scheduler-enabled=false)");
            return;
        }
        running = true;
        long every = Math.max(1, config.lease().toMillis() / 3);
        timers.scheduleWithFixedDelay(this::renewLeases, every, every, TimeUnit.MILLISECONDS);
        if (mtaSts != null) {
            long check = Math.max(1000, config.mtaSts().checkInterval().toMillis());
            timers.scheduleWithFixedDelay(() -> blocking.execute(this::refreshMtaSts), check, check, TimeUnit.MILLISECONDS);
        }
        dispatcher = new Thread(this::dispatch, "delivery-dispatcher");
        dispatcher.setDaemon(true);
        dispatcher.start();
        LOG.infof("delivery scheduler: %d worker threads, up to %d groups in hand, outbound TLS by %s, as %s",
                config.workers(), config.maxInFlight(), engine == TlsEngine.OPENSSL
                        ? "OpenSSL (BoringSSL)" : "the JDK", worker);
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        timers.shutdownNow();
        blocking.shutdownNow();
        if (dispatcher == null) {
            return;
        }
        dispatcher.interrupt();
        try {
            dispatcher.join(5000);
            blocking.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Claims due work while there is room, and hands it on by domain; waits for a wake-up otherwise. */
    private void dispatch() {
        while (running) {
            try {
                int free = room.availablePermits();
                if (free == 0) {
                    signal.await(config.pollInterval()); // a finished group wakes us
                    continue;
                }
                Instant now = Instant.now();
                limited.values().removeIf(until -> !until.isAfter(now));
                Set<String> skip = new HashSet<>(limited.keySet());
                skip.addAll(window.crowded());
                List<Claims.Work> due = claims.claim(worker, Math.min(config.claimBatch(), free), config.lease(), skip);
                if (due.isEmpty()) {
                    signal.await(config.pollInterval());
                    continue;
                }
                for (List<Claims.Work> group : byDomain(due)) {
                    room.acquireUninterruptibly();
                    holding.addAll(group);
                    blocking.execute(() -> deliverSafely(group).onComplete(ar -> {
                        holding.removeAll(group);
                        room.release();
                        signal.fire();
                    }));
                }
            } catch (InterruptedException e) {
                return;
            } catch (QueueUnavailableException e) {
                LOG.warnf("delivery queue unavailable: %s", e.getMessage());
                sleep(config.pollInterval().multipliedBy(5));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                return; // shutting down: the leases run out and the work comes back
            }
        }
    }

    /** Extends the leases of the work in hand (every third of a lease), so long deliveries keep their claim. */
    private void renewLeases() {
        Set<Long> mids = new HashSet<>();
        holding.forEach(w -> mids.add(w.mid()));
        try {
            claims.renew(worker, mids, config.lease());
        } catch (QueueUnavailableException e) {
            LOG.warnf("could not renew delivery leases: %s", e.getMessage());
        }
    }

    /** The claimed work grouped by domain (and redirect host), in claim order: each group is delivered together. */
    private static List<List<Claims.Work>> byDomain(List<Claims.Work> due) {
        Map<String, List<Claims.Work>> groups = new LinkedHashMap<>();
        due.forEach(w -> groups.computeIfAbsent(w.redirect() == null ? w.domain() : w.domain() + "\n" + w.redirect(),
                d -> new ArrayList<>()).add(w));
        return List.copyOf(groups.values());
    }

    /** {@link GroupDelivery#deliver}, with whatever fails unexpectedly deferring the group (a queue outage leaves it to its leases). */
    private Future<Void> deliverSafely(List<Claims.Work> group) {
        Future<Void> f;
        try {
            f = groups.deliver(group);
        } catch (RuntimeException e) {
            f = Future.failedFuture(e);
        }
        return f.recover(e -> {
            if (e instanceof QueueUnavailableException q) {
                LOG.warnf("delivery queue unavailable: %s", q.getMessage());
                return Future.succeededFuture();
            }
            if (e instanceof java.util.concurrent.RejectedExecutionException) {
                return Future.succeededFuture(); // shutting down
            }
            LOG.errorf(e, "MID %s: delivery to %s failed unexpectedly", group.stream().map(Claims.Work::mid).toList(),
                    group.get(0).domain());
            return groups.onWorker(() -> {
                settlement.deferUpstream(group, "451 4.3.0 internal error");
                return null;
            });
        });
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }
}
