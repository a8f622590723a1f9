package io.tlsgate.delivery.schedule;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.delivery.events.TlsEvents;
import io.tlsgate.delivery.limits.ConnectionSlots;
import io.tlsgate.delivery.limits.DestinationLimits;
import io.tlsgate.delivery.limits.RecipientRate;
import io.tlsgate.delivery.queue.Attempts;
import io.tlsgate.delivery.queue.Claims;
import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.QueueSignal;
import io.tlsgate.delivery.queue.QueueUnavailableException;
import io.tlsgate.delivery.smtp.DomainDelivery;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.tlsgate.delivery.upstream.CertClient;
import io.tlsgate.delivery.upstream.PolicyClient;
import io.tlsgate.platform.dns.MxResolver;
import io.vertx.core.Future;
import io.vertx.core.Promise;
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
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The delivery scheduler. One dispatcher thread claims due recipients (grouped by message and
 * domain, leased, see {@link Claims}) while there is room in hand, and hands each domain's group
 * to a small pool of threads for the steps that block briefly (policy-service and cert-service
 * calls, DNS, the database): the domain's rules ({@link DomainRules}), its limits
 * ({@link ConnectionSlots}, {@link RecipientRate}) and the messages' contents. The SMTP
 * sessions themselves run on the Vert.x event loop ({@link DomainDelivery#start}): no thread
 * waits on a socket, so a destination that hangs or tarpits holds only its own connections,
 * never the other domains' deliveries. The results are recorded per recipient by
 * {@link Settlement}; work a destination limit holds back waits without counting an attempt.
 * Writes the connections' mail-log lines and one TLS event per TLS decision.
 */
@ApplicationScoped
public class Scheduler {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");
    /** How long work held back by a concurrency limit waits before it is tried again. */
    private static final Duration LIMIT_RETRY = Duration.ofSeconds(1);

    private final DeliveryConfig config;
    private final Claims claims;
    private final MessageQueue queue;
    private final TlsEvents events;
    private final QueueSignal signal;
    private final ConnectionSlots slots;
    private final RecipientRate rate;
    private final DomainDelivery delivery;
    private final DomainRules rules;
    private final Settlement settlement;
    private final String heloName;
    private final String worker = host() + "-" + UUID.randomUUID().toString().substring(0, 8);
    /** Claimed work in hand (its leases are renewed), each released once it is recorded. */
    private final Set<Claims.Work> holding = ConcurrentHashMap.newKeySet();
    /** Room for claimed work: recipients groups in hand at once (tlsgate.delivery.max-in-flight). */
    private final Semaphore room;
    /** Room for message content in memory, in KiB (tlsgate.delivery.max-content-in-flight). */
    private final Semaphore contentRoom;
    private final int contentKib;
    /** Domains whose concurrency limit refused a connection just now, until when: not claimed meanwhile. */
    private final Map<String, Instant> limited = new ConcurrentHashMap<>();
    private ExecutorService blocking;
    private ScheduledExecutorService timers;
    private Thread dispatcher;
    private volatile boolean running;

    Scheduler(DeliveryConfig config, Claims claims, MessageQueue queue, Attempts attempts, PolicyClient policy, CertClient certs,
            TlsEvents events, QueueSignal signal, ConnectionSlots slots, RecipientRate rate, io.vertx.core.Vertx vertx,
            @ConfigProperty(name = "tlsgate.dns.server") Optional<String> dnsServer) {
        this.config = config;
        this.claims = claims;
        this.queue = queue;
        this.events = events;
        this.signal = signal;
        this.slots = slots;
        this.rate = rate;
        this.delivery = new DomainDelivery(vertx, new MxResolver(dnsServer), config.smtpPort(), attempts::nextDcid,
                new DomainDelivery.Limits(config.mxHostLimit(), config.connectionLimit(), config.domainDeadline(),
                        config.mxLocalAddresses(), new SmtpDeliveryAttempt.Timeouts(config.connectTimeout(),
                                config.replyTimeout(), config.dataTimeout(), config.handshakeTimeout(), null),
                        config.connectionIdle()));
        this.heloName = config.heloName().orElse(host());
        this.rules = new DomainRules(policy, certs, delivery);
        this.settlement = new Settlement(claims, queue, worker, heloName);
        this.room = new Semaphore(config.maxInFlight());
        this.contentKib = (int) Math.min(Integer.MAX_VALUE, Math.max(1, config.maxContentInFlight() / 1024));
        this.contentRoom = new Semaphore(contentKib);
    }

    void start(@Observes StartupEvent ignored) {
        if (!config.schedulerEnabled()) {
            LOG.info("delivery scheduler is off (tlsgate.delivery.scheduler-enabled=false)");
            return;
        }
        running = true;
        AtomicInteger n = new AtomicInteger();
        blocking = Executors.newFixedThreadPool(config.workers(), r -> {
            Thread t = new Thread(r, "delivery-worker-" + n.getAndIncrement());
            t.setDaemon(true);
            return t;
        });
        timers = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "delivery-lease-renewer");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(1, config.lease().toMillis() / 3);
        timers.scheduleWithFixedDelay(this::renewLeases, every, every, TimeUnit.MILLISECONDS);
        dispatcher = new Thread(this::dispatch, "delivery-dispatcher");
        dispatcher.setDaemon(true);
        dispatcher.start();
        LOG.infof("delivery scheduler: %d worker threads, up to %d groups in hand, as %s, EHLO %s", config.workers(),
                config.maxInFlight(), worker, heloName);
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        if (dispatcher == null) {
            return;
        }
        dispatcher.interrupt();
        timers.shutdownNow();
        blocking.shutdownNow();
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
                List<Claims.Work> due = claims.claim(worker, Math.min(config.claimBatch(), free), config.lease(),
                        Set.copyOf(limited.keySet()));
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

    /** The claimed work grouped by domain, in claim order: each group is delivered together. */
    private static List<List<Claims.Work>> byDomain(List<Claims.Work> due) {
        Map<String, List<Claims.Work>> groups = new LinkedHashMap<>();
        due.forEach(w -> groups.computeIfAbsent(w.domain(), d -> new ArrayList<>()).add(w));
        return List.copyOf(groups.values());
    }

    /** Runs {@code task} on a worker thread (it may block briefly: database, policy, DNS). */
    private <T> Future<T> onWorker(java.util.concurrent.Callable<T> task) {
        Promise<T> p = Promise.promise();
        try {
            blocking.execute(() -> {
                try {
                    p.complete(task.call());
                } catch (Throwable e) {
                    p.fail(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            p.fail(e);
        }
        return p.future();
    }

    /** {@link #deliver}, with whatever fails unexpectedly deferring the group (a queue outage leaves it to its leases). */
    private Future<Void> deliverSafely(List<Claims.Work> group) {
        Future<Void> f;
        try {
            f = deliver(group);
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
            return onWorker(() -> {
                settlement.deferUpstream(group, "451 4.3.0 internal error");
                return null;
            });
        });
    }

    /** The most content one piece of messages holds in memory at once; a larger message goes alone. */
    private static final long GROUP_BYTES = 32L * 1024 * 1024;

    /**
     * Delivers messages for one domain (called on a worker thread) and records the result of
     * every recipient: the domain's policy, route, TLS rules and limits once, then the messages
     * the recipient limit lets go now, in pieces of up to the policy's messages-per-connection
     * (and {@link #GROUP_BYTES} of content), the pieces side by side, each over as few
     * connections as the peer allows. Completes when every recipient is recorded.
     */
    Future<Void> deliver(List<Claims.Work> works) {
        String domain = works.get(0).domain();
        DomainRules.Rules rules;
        try {
            rules = this.rules.of(domain);
        } catch (DomainRules.Unavailable e) {
            settlement.deferUpstream(works, e.getMessage());
            return Future.succeededFuture();
        }
        List<Claims.Work> admitted = admit(domain, works, rules);
        List<Future<Void>> pieces = new ArrayList<>();
        List<Claims.Work> piece = new ArrayList<>();
        Map<Long, MessageQueue.Content> contents = new LinkedHashMap<>();
        long bytes = 0;
        int perConnection = Math.max(1, rules.policy().getMaxMessagesPerConnection());
        Map<Long, MessageQueue.Content> loaded = Map.of();
        for (int i = 0; i < admitted.size(); i++) {
            if (i % perConnection == 0) {
                // One query per connection's worth of messages.
                loaded = queue.contents(admitted.subList(i, Math.min(admitted.size(), i + perConnection)).stream()
                        .map(Claims.Work::mid).toList());
            }
            Claims.Work w = admitted.get(i);
            MessageQueue.Content content = loaded.get(w.mid());
            if (content == null) {
                continue; // gone meanwhile (an operator deleted it)
            }
            if (!piece.isEmpty() && (piece.size() == perConnection || bytes + content.data().length > GROUP_BYTES)) {
                pieces.add(deliverPiece(domain, List.copyOf(piece), new LinkedHashMap<>(contents), bytes, rules));
                piece.clear();
                contents.clear();
                bytes = 0;
            }
            piece.add(w);
            contents.put(w.mid(), content);
            bytes += content.data().length;
        }
        if (!piece.isEmpty()) {
            pieces.add(deliverPiece(domain, piece, contents, bytes, rules));
        }
        return Future.join(pieces).mapEmpty();
    }

    /**
     * The work the domain's recipient limit lets go now, in claim order; the rest waits, each
     * message until the time its recipients would come up at the limit's pace, with no attempt
     * counted. Under limits per MX address the rate counts at the plan's first address.
     */
    private List<Claims.Work> admit(String domain, List<Claims.Work> works, DomainRules.Rules rules) {
        DestinationLimits limits = rules.limits();
        if (!limits.rated()) {
            return works;
        }
        InetAddress first = rules.plan().hops().stream().flatMap(h -> h.addresses().stream()).findFirst().orElse(null);
        String key = limits.key(domain, first);
        RecipientRate.Grant g;
        try {
            g = rate.take(key, works.stream().map(w -> w.rids().size()).toList(), limits);
        } catch (java.sql.SQLException e) {
            throw new QueueUnavailableException("could not apply the recipient limit", e);
        }
        if (g.messages() < works.size()) {
            Claims.Batch later = new Claims.Batch();
            String reply = "451 4.4.5 recipient limit reached: " + limits.recipients() + " per " + limits.perMinutes()
                    + " minute(s) to " + key.substring(key.indexOf(':') + 1) + " (" + limits.scope() + ")";
            Instant next = g.next();
            for (Claims.Work w : works.subList(g.messages(), works.size())) {
                Settlement.postpone(later, w, next, reply);
                next = next.plus(limits.spacing().multipliedBy(Math.max(1, w.rids().size())));
            }
            settlement.commit(later);
            wakeAt(g.next());
        }
        return works.subList(0, g.messages());
    }

    /** Looks for due work again at {@code when} (work a limit held back falls due then). */
    private void wakeAt(Instant when) {
        timers.schedule(signal::fire, Math.max(0, Duration.between(Instant.now(), when).toMillis()), TimeUnit.MILLISECONDS);
    }

    /**
     * One piece: its content held against {@link #contentRoom}, delivered on the event loop
     * under the domain's concurrency limit, then recorded on a worker thread.
     */
    private Future<Void> deliverPiece(String domain, List<Claims.Work> works, Map<Long, MessageQueue.Content> contents,
            long bytes, DomainRules.Rules rules) {
        int kib = (int) Math.min(contentKib, Math.max(1, bytes / 1024));
        contentRoom.acquireUninterruptibly(kib);
        Instant now = Instant.now();
        List<SmtpDeliveryAttempt.Message> messages = works.stream().map(w -> new SmtpDeliveryAttempt.Message(w.mid(), w.rids(),
                contents.get(w.mid()).mailFrom(), w.addresses(), contents.get(w.mid()).data())).toList();
        Future<DomainDelivery.Outcome> sent;
        try {
            sent = delivery.start(domain, rules.plan(), rules.tlsFor(), heloName, messages,
                    Math.max(1, rules.policy().getMaxMessagesPerConnection()), slots.gate(domain, rules.limits()));
        } catch (RuntimeException e) {
            sent = Future.failedFuture(e);
        }
        return sent.onComplete(ar -> contentRoom.release(kib))
                .compose(all -> onWorker(() -> {
                    record(domain, works, contents, all, rules, now);
                    return null;
                }));
    }

    /** The connections' log lines and events, then each message's recipients. */
    private void record(String domain, List<Claims.Work> works, Map<Long, MessageQueue.Content> contents,
            DomainDelivery.Outcome all, DomainRules.Rules rules, Instant now) {
        for (DomainDelivery.Tried t : all.attempts()) {
            if (t.result() != null) {
                t.result().log().forEach(LOG::info);
                if (!t.result().reused()) {
                    // One event per TLS decision: an idle connection used again made none.
                    events.outcome(new TlsEvents.Connection(t.dcid(), t.mids(), t.ip(), t.host(), t.port(), domain,
                            t.tls().mode(), t.tls().source()), t.result(), now, rules.settings().getAlertOnRequiredTlsFailure());
                }
            } else {
                LOG.info(t.error());
            }
        }
        Claims.Batch batch = new Claims.Batch();
        Instant retry = Instant.now().plus(LIMIT_RETRY);
        boolean held = false;
        for (Claims.Work w : works) {
            DomainDelivery.Outcome mine = all.of(w.mid());
            if (mine.limited()) {
                held = true;
                Settlement.postpone(batch, w, retry, "451 4.4.5 " + mine.error());
            } else {
                settlement.settle(batch, w, contents.get(w.mid()), rules.plan(), mine, rules.profile(), rules.tls(), now);
            }
        }
        settlement.commit(batch);
        if (held) {
            limited.put(domain, retry);
            wakeAt(retry);
        }
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
