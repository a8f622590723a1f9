package io.tlsgate.delivery.schedule;

import io.grpc.StatusRuntimeException;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.core.destination.IpPreference;
import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.delivery.events.TlsEvents;
import io.tlsgate.delivery.limits.ConnectionSlots;
import io.tlsgate.delivery.limits.DestinationLimits;
import io.tlsgate.delivery.limits.RecipientRate;
import io.tlsgate.delivery.queue.Attempts;
import io.tlsgate.delivery.queue.Claims;
import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.NewMessage;
import io.tlsgate.delivery.queue.QueueSignal;
import io.tlsgate.delivery.queue.QueueUnavailableException;
import io.tlsgate.delivery.smtp.DomainDelivery;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.tlsgate.delivery.upstream.CertClient;
import io.tlsgate.delivery.upstream.PolicyClient;
import io.tlsgate.platform.dns.MxResolver;
import io.tlsgate.proto.policy.v1.BounceProfile;
import io.tlsgate.proto.policy.v1.NextHop;
import io.tlsgate.proto.policy.v1.OutboundPolicy;
import io.tlsgate.proto.policy.v1.OutboundSettings;
import io.tlsgate.proto.policy.v1.Route;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
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
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The delivery scheduler. One dispatcher thread claims due recipients (grouped by message and
 * domain, leased, see {@link Claims}) while there is room in hand, and hands each domain's group
 * to a small pool of threads for the steps that block briefly (policy-service and cert-service
 * calls, DNS, the database): the domain's outbound policy, route, bounce profile and TLS rules,
 * its limits, and the messages' contents. The SMTP sessions themselves run on the Vert.x event
 * loop ({@link DomainDelivery#start}): no thread waits on a socket, so a destination that hangs
 * or tarpits holds only its own connections, never the other domains' deliveries. Each result
 * is recorded per recipient: delivered, deferred under the bounce profile's back-off, or
 * bounced (with a DSN to the sender when the profile says so); work a destination limit holds
 * back waits without counting an attempt. Writes the mail-log lines and one TLS event per
 * connection.
 */
@ApplicationScoped
public class Scheduler {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");
    private static final Pattern ENHANCED = Pattern.compile("^([245])\\d\\d[ -]([245]\\.\\d{1,3}\\.\\d{1,3})\\s*(.*)$",
            Pattern.DOTALL);
    private static final Duration UPSTREAM_RETRY = Duration.ofMinutes(1);
    /** How long work held back by a concurrency limit waits before it is tried again. */
    private static final Duration LIMIT_RETRY = Duration.ofSeconds(1);

    private final DeliveryConfig config;
    private final Claims claims;
    private final MessageQueue queue;
    private final Attempts attempts;
    private final PolicyClient policy;
    private final CertClient certs;
    private final TlsEvents events;
    private final QueueSignal signal;
    private final ConnectionSlots slots;
    private final RecipientRate rate;
    private final DomainDelivery delivery;
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
        this.attempts = attempts;
        this.policy = policy;
        this.certs = certs;
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
                for (Claims.Work w : group) {
                    claims.defer(worker, w.mid(), w.rids(), Instant.now().plus(UPSTREAM_RETRY), "451 4.3.0 internal error");
                }
                return null;
            });
        });
    }

    /** The most content one piece of messages holds in memory at once; a larger message goes alone. */
    private static final long GROUP_BYTES = 32L * 1024 * 1024;

    /** What one domain's delivery needs, fetched once per group. */
    private record Rules(OutboundSettings settings, OutboundPolicy policy, BounceProfile profile, DomainDelivery.Tls tls,
            Function<InetAddress, DomainDelivery.Tls> tlsFor, DomainDelivery.Plan plan, DestinationLimits limits) {}

    /**
     * Delivers messages for one domain (called on a worker thread) and records the result of
     * every recipient: the domain's policy, route, TLS rules and limits once, then the messages
     * the recipient limit lets go now, in pieces of up to the policy's messages-per-connection
     * (and {@link #GROUP_BYTES} of content), the pieces side by side, each over as few
     * connections as the peer allows. Completes when every recipient is recorded.
     */
    Future<Void> deliver(List<Claims.Work> works) {
        String domain = works.get(0).domain();
        Rules rules = rules(works);
        if (rules == null) {
            return Future.succeededFuture();
        }
        List<Claims.Work> admitted = admit(domain, works, rules);
        List<Future<Void>> pieces = new ArrayList<>();
        List<Claims.Work> piece = new ArrayList<>();
        Map<Long, MessageQueue.Content> contents = new LinkedHashMap<>();
        long bytes = 0;
        int perConnection = Math.max(1, rules.policy().getMaxMessagesPerConnection());
        for (Claims.Work w : admitted) {
            Optional<MessageQueue.Content> content = queue.content(w.mid());
            if (content.isEmpty()) {
                continue;
            }
            if (!piece.isEmpty() && (piece.size() == perConnection || bytes + content.get().data().length > GROUP_BYTES)) {
                pieces.add(deliverPiece(domain, List.copyOf(piece), new LinkedHashMap<>(contents), bytes, rules));
                piece.clear();
                contents.clear();
                bytes = 0;
            }
            piece.add(w);
            contents.put(w.mid(), content.get());
            bytes += content.get().data().length;
        }
        if (!piece.isEmpty()) {
            pieces.add(deliverPiece(domain, piece, contents, bytes, rules));
        }
        return Future.join(pieces).mapEmpty();
    }

    /** The domain's rules, or null when an upstream service is away (the work is deferred then). */
    private Rules rules(List<Claims.Work> works) {
        String domain = works.get(0).domain();
        OutboundSettings settings;
        OutboundPolicy p;
        Route route;
        try {
            settings = policy.settings();
            p = policy.outbound(domain);
            route = policy.route(domain);
        } catch (StatusRuntimeException e) {
            // Without the policy nobody knows whether TLS is required: wait rather than guess.
            works.forEach(w -> deferUpstream(w, "451 4.4.3 policy-service unavailable: " + e.getStatus().getCode()));
            return null;
        }
        DomainDelivery.Tls domainTls;
        try {
            domainTls = tlsRules(settings, p);
        } catch (UpstreamUnavailable e) {
            works.forEach(w -> deferUpstream(w, e.getMessage()));
            return null;
        }
        DomainDelivery.Plan plan = delivery.plan(domain, route.getHopsList().stream().map(NextHop::getHost).toList(),
                route.getHopsList().stream().map(NextHop::getPort).toList(), route.getUseDns() || route.getHopsCount() == 0,
                preference(p));
        // With no entry of its own the domain gets `default`, unless an IP or CIDR entry covers
        // the address a connection goes to: asked here, for every address of the plan, so the
        // connections (on the event loop) never wait for policy-service.
        Map<InetAddress, DomainDelivery.Tls> byAddress = new HashMap<>();
        if ("default".equals(p.getMatchedKey())) {
            try {
                for (DomainDelivery.Hop h : plan.hops()) {
                    for (InetAddress a : h.addresses()) {
                        if (!byAddress.containsKey(a)) {
                            OutboundPolicy forAddress = policy.outbound(domain, a.getHostAddress());
                            byAddress.put(a, "default".equals(forAddress.getMatchedKey()) ? domainTls : tlsRules(settings, forAddress));
                        }
                    }
                }
            } catch (StatusRuntimeException e) {
                works.forEach(w -> deferUpstream(w, "451 4.4.3 policy-service unavailable: " + e.getStatus().getCode()));
                return null;
            } catch (UpstreamUnavailable e) {
                works.forEach(w -> deferUpstream(w, e.getMessage()));
                return null;
            }
        }
        return new Rules(settings, p, profile(settings, p.getBounceProfile()), domainTls,
                a -> byAddress.getOrDefault(a, domainTls), plan, DestinationLimits.of(p));
    }

    /**
     * The work the domain's recipient limit lets go now, in claim order; the rest waits, each
     * message until the time its recipients would come up at the limit's pace, with no attempt
     * counted. Under limits per MX address the rate counts at the plan's first address.
     */
    private List<Claims.Work> admit(String domain, List<Claims.Work> works, Rules rules) {
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
        Instant next = g.next();
        for (Claims.Work w : works.subList(g.messages(), works.size())) {
            String reply = "451 4.4.5 recipient limit reached: " + limits.recipients() + " per " + limits.perMinutes()
                    + " minute(s) to " + key.substring(key.indexOf(':') + 1) + " (" + limits.scope() + ")";
            postpone(w, next, reply);
            next = next.plus(limits.spacing().multipliedBy(Math.max(1, w.rids().size())));
        }
        return works.subList(0, g.messages());
    }

    /** Puts work back until {@code until} without counting an attempt, with its mail-log line, and looks again then. */
    private void postpone(Claims.Work w, Instant until, String reply) {
        claims.postpone(worker, w.mid(), w.rids(), until, reply);
        LOG.infof("Delayed: DCID 0 MID %d to RID %s - %s - %s", w.mid(), w.rids(), status(reply), text(reply));
        long in = Math.max(0, Duration.between(Instant.now(), until).toMillis());
        timers.schedule(signal::fire, in, TimeUnit.MILLISECONDS);
    }

    /**
     * One piece: its content held against {@link #contentRoom}, delivered on the event loop
     * under the domain's concurrency limit, then recorded on a worker thread.
     */
    private Future<Void> deliverPiece(String domain, List<Claims.Work> works, Map<Long, MessageQueue.Content> contents,
            long bytes, Rules rules) {
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
            DomainDelivery.Outcome all, Rules rules, Instant now) {
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
        for (Claims.Work w : works) {
            DomainDelivery.Outcome mine = all.of(w.mid());
            if (mine.limited()) {
                limited.put(domain, Instant.now().plus(LIMIT_RETRY));
                postpone(w, Instant.now().plus(LIMIT_RETRY), "451 4.4.5 " + mine.error());
            } else {
                settle(w, contents.get(w.mid()), rules.plan(), mine, rules.profile(), rules.tls(), now);
            }
        }
    }

    /** Records one message's recipients at this domain: delivered, deferred or bounced (with the DSN). */
    private void settle(Claims.Work w, MessageQueue.Content m, DomainDelivery.Plan plan, DomainDelivery.Outcome o,
            BounceProfile profile, DomainDelivery.Tls domainTls, Instant now) {
        // The TLS rules of the last connection decide how a TLS failure is reported.
        DomainDelivery.Tls lastTls = o.attempts().isEmpty() ? domainTls : o.attempts().get(o.attempts().size() - 1).tls();
        Map<Integer, String> delivered = new LinkedHashMap<>();
        Map<Integer, String> bounced = new LinkedHashMap<>();
        Map<Integer, String> deferred = new LinkedHashMap<>();
        classify(w, lastTls.mode(), plan, o, delivered, bounced, deferred);
        long dcid = o.attempts().isEmpty() ? 0 : o.attempts().get(o.attempts().size() - 1).dcid();
        int attempt = w.attempts() + 1;
        // The group's recipients are on one attempt number: one retry time for all of them.
        Optional<Instant> next = deferred.isEmpty() ? Optional.empty() : schedule(profile).next(attempt, m.receivedAt(), now);
        if (next.isEmpty()) {
            deferred.forEach((rid, reply) -> bounced.put(rid, "554 5.4.7 Delivery time expired after " + attempt
                    + " attempt(s): " + text(reply)));
            deferred.clear();
        }
        record(w, o, domainTls, delivered, bounced, deferred);

        if (!delivered.isEmpty()) {
            claims.finish(worker, w.mid(), List.copyOf(delivered.keySet()), Claims.Result.DELIVERED,
                    delivered.values().iterator().next());
        }
        Map<String, List<Integer>> byReply = new LinkedHashMap<>();
        deferred.forEach((rid, reply) -> byReply.computeIfAbsent(reply, k -> new ArrayList<>()).add(rid));
        byReply.forEach((reply, rids) -> {
            claims.defer(worker, w.mid(), rids, next.orElseThrow(), reply);
            LOG.infof("Delayed: DCID %d MID %d to RID %s - %s - %s", dcid, w.mid(), rids, status(reply), text(reply));
        });
        if (!bounced.isEmpty()) {
            List<Dsn.Failed> failed = new ArrayList<>();
            for (Map.Entry<Integer, String> b : bounced.entrySet()) {
                claims.finish(worker, w.mid(), List.of(b.getKey()), Claims.Result.BOUNCED, b.getValue());
                LOG.infof("Bounced: DCID %d MID %d to RID [%d] - %s - %s", dcid, w.mid(), b.getKey(), status(b.getValue()),
                        text(b.getValue()));
                failed.add(new Dsn.Failed(w.addresses().get(w.rids().indexOf(b.getKey())), status(b.getValue()), b.getValue(),
                        o.last() == null || o.attempts().isEmpty() ? null : o.attempts().get(o.attempts().size() - 1).host()));
            }
            if (profile.getSendHardBounces() && !m.mailFrom().isEmpty()) {
                bounce(w.mid(), m.mailFrom(), failed);
            }
        }
    }

    /** Sorts the recipients into delivered, bounced and deferred, each with the reply that decided it. */
    private static void classify(Claims.Work w, OutboundTlsMode mode, DomainDelivery.Plan plan, DomainDelivery.Outcome o,
            Map<Integer, String> delivered, Map<Integer, String> bounced, Map<Integer, String> deferred) {
        SmtpDeliveryAttempt.Result last = o.last();
        if (last != null && last.action() != Action.TEMPFAIL && last.rcptReplies().size() == w.rids().size()) {
            for (int i = 0; i < w.rids().size(); i++) {
                int rid = w.rids().get(i);
                String reply = last.rcptReplies().get(i);
                if (reply.startsWith("2")) {
                    String data = last.dataReply() == null ? "451 4.4.2 connection lost during DATA" : last.dataReply();
                    (data.startsWith("2") ? delivered : data.startsWith("5") ? bounced : deferred).put(rid, data);
                } else {
                    (reply.startsWith("5") ? bounced : deferred).put(rid, reply);
                }
            }
            return;
        }
        String reply;
        if (last != null && last.action() == Action.TEMPFAIL && o.attempts().stream().allMatch(t -> t.result() != null)) {
            reply = mode.requiresTls() ? "421 4.7.5 TLS required by policy" : "421 4.7.0 TLS negotiation failed";
        } else if (o.attempts().isEmpty() && plan.permanent()) {
            reply = plan.error() != null && plan.error().startsWith("null MX") ? "550 5.1.10 " + plan.error()
                    : "550 5.1.2 Bad destination host: " + plan.error();
        } else if (o.attempts().isEmpty()) {
            reply = "451 4.4.3 " + (plan.error() == null ? "no host to deliver to" : plan.error());
        } else {
            reply = "421 4.4.1 " + (o.error() == null ? "connection failed" : o.error());
        }
        for (int rid : w.rids()) {
            (reply.startsWith("5") ? bounced : deferred).put(rid, reply);
        }
    }

    private void record(Claims.Work w, DomainDelivery.Outcome o, DomainDelivery.Tls domainTls,
            Map<Integer, String> delivered, Map<Integer, String> bounced, Map<Integer, String> deferred) {
        String finalOutcome = delivered.size() == w.rids().size() ? "delivered" : bounced.size() == w.rids().size() ? "bounced"
                : deferred.size() == w.rids().size() ? "deferred" : "partly";
        String finalReply = !delivered.isEmpty() ? delivered.values().iterator().next()
                : !deferred.isEmpty() ? deferred.values().iterator().next() : bounced.values().iterator().next();
        if (o.attempts().isEmpty()) {
            attempts.record(w.mid(), new Attempts.Attempt(0, Instant.now(), w.rids(), w.domain(), null, null, null,
                    new Attempts.Tls(domainTls.mode().name(), domainTls.source(), null, null, null, null, null), finalOutcome,
                    finalReply));
            return;
        }
        for (int i = 0; i < o.attempts().size(); i++) {
            DomainDelivery.Tried t = o.attempts().get(i);
            boolean lastOne = i == o.attempts().size() - 1;
            SmtpDeliveryAttempt.Result r = t.result();
            OutboundTlsMode mode = t.tls().mode();
            Attempts.Tls tls = r == null ? new Attempts.Tls(mode.name(), t.tls().source(), null, null, null, null, null)
                    : new Attempts.Tls(mode.name(), t.tls().source(), OutboundTlsDecision.result(mode, r.action()), r.protocol(),
                            r.cipher(), r.verification(), r.resultType());
            attempts.record(w.mid(), new Attempts.Attempt(t.dcid(), Instant.now(), w.rids(), w.domain(), t.host(), t.ip(), t.port(),
                    tls, lastOne ? finalOutcome : "deferred", lastOne ? finalReply : t.error() != null ? t.error()
                            : "TLS: " + r.resultType()));
        }
    }

    private void bounce(long mid, String sender, List<Dsn.Failed> failed) {
        Path file = null;
        try {
            file = Files.createTempFile("tlsgate-dsn-", ".eml");
            Files.write(file, Dsn.build(heloName, sender, mid, failed, Instant.now().atZone(ZoneOffset.UTC)));
            long dsn = queue.enqueue(new NewMessage("", List.of(sender), file, Files.size(file), 0, null,
                    NewMessage.TlsFacts.NONE));
            LOG.infof("MID %d DSN for MID %d to %d recipient(s)", dsn, mid, failed.size());
        } catch (IOException | IllegalArgumentException e) {
            LOG.warnf("MID %d: no DSN could be queued for %s: %s", mid, sender, e.getMessage());
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // a temp file
                }
            }
        }
    }

    /** An upstream service is away and the rules cannot be known: the work waits. */
    private static final class UpstreamUnavailable extends RuntimeException {
        UpstreamUnavailable(String reply) {
            super(reply, null, false, false);
        }
    }

    /**
     * A policy's TLS rules: its mode and source, and for the TLS modes the trust anchors and
     * client key from cert-service. Without cert-service a verify mode cannot be honoured
     * ({@link UpstreamUnavailable}); the other TLS modes go on without a client certificate.
     */
    private DomainDelivery.Tls tlsRules(OutboundSettings settings, OutboundPolicy p) {
        OutboundTlsMode mode = OutboundTlsMode.valueOf(p.getTls().name());
        String source = p.getSourcesOrDefault("tls", p.getMatchedKey());
        if (!mode.attemptsTls()) {
            return new DomainDelivery.Tls(mode, source, List.of(), null);
        }
        try {
            CertClient.Material tls = certs.material(settings.getCertificateSlot(), settings.getTrustedCaMode());
            return new DomainDelivery.Tls(mode, source, tls.anchors(), tls.clientKey());
        } catch (StatusRuntimeException | IllegalStateException e) {
            if (mode.verifiesCertificate()) {
                throw new UpstreamUnavailable("451 4.4.3 cert-service unavailable: " + e.getMessage());
            }
            LOG.warnf("cert-service unavailable (%s): %s mode goes on without a client certificate", e.getMessage(), mode);
            return new DomainDelivery.Tls(mode, source, List.of(), null);
        }
    }

    private void deferUpstream(Claims.Work w, String reply) {
        claims.defer(worker, w.mid(), w.rids(), Instant.now().plus(UPSTREAM_RETRY), reply);
        LOG.infof("Delayed: DCID 0 MID %d to RID %s - %s - %s", w.mid(), w.rids(), status(reply), text(reply));
    }

    private static BounceProfile profile(OutboundSettings s, String name) {
        return s.getBounceProfilesList().stream().filter(b -> b.getName().equals(name)).findFirst()
                .or(() -> s.getBounceProfilesList().stream().filter(b -> b.getName().equals("default")).findFirst())
                .orElse(BounceProfile.newBuilder().setName("built-in").setMaxRetries(100).setMaxTimeInQueueSeconds(5 * 86_400)
                        .setInitialRetrySeconds(60).setMaxRetrySeconds(3600).setSendHardBounces(true).build());
    }

    private static RetrySchedule schedule(BounceProfile b) {
        return new RetrySchedule(b.getMaxRetries(), Duration.ofSeconds(b.getMaxTimeInQueueSeconds()),
                Duration.ofSeconds(b.getInitialRetrySeconds()), Duration.ofSeconds(b.getMaxRetrySeconds()));
    }

    private static IpPreference preference(OutboundPolicy p) {
        return switch (p.getIpPreference()) {
            case IPV4_ONLY -> IpPreference.IPV4_ONLY;
            case IPV6_ONLY -> IpPreference.IPV6_ONLY;
            case IPV6_PREFERRED -> IpPreference.IPV6_PREFERRED;
            default -> IpPreference.IPV4_PREFERRED;
        };
    }

    /** The enhanced status code of a reply ("5.1.1"), or one made from its basic code. */
    static String status(String reply) {
        Matcher m = ENHANCED.matcher(reply);
        if (m.matches()) {
            return m.group(2);
        }
        return reply.isEmpty() ? "4.0.0" : reply.charAt(0) + ".0.0";
    }

    /** A reply's text after the codes, on one line. */
    static String text(String reply) {
        Matcher m = ENHANCED.matcher(reply);
        String t = m.matches() ? m.group(3) : reply.length() > 4 ? reply.substring(4) : reply;
        return t.replaceAll("[\\r\\n]+\\d{3}[ -]", " ").replaceAll("[\\r\\n]+", " ").strip();
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
