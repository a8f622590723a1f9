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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Delivery workers: each claims due recipients (grouped by message and domain, leased, see
 * {@link Claims}), asks policy-service for the domain's outbound policy, route and bounce
 * profile, cert-service for trust anchors and the client certificate, delivers over SMTP
 * along the route or MX hosts with the mode's TLS rules, and records per recipient:
 * delivered, deferred under the bounce profile's back-off, or bounced (with a DSN to the
 * sender when the profile says so). Writes the mail-log lines and one TLS event per
 * connection.
 */
@ApplicationScoped
public class Scheduler {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");
    private static final Pattern ENHANCED = Pattern.compile("^([245])\\d\\d[ -]([245]\\.\\d{1,3}\\.\\d{1,3})\\s*(.*)$",
            Pattern.DOTALL);
    private static final Duration UPSTREAM_RETRY = Duration.ofMinutes(1);

    private final DeliveryConfig config;
    private final Claims claims;
    private final MessageQueue queue;
    private final Attempts attempts;
    private final PolicyClient policy;
    private final CertClient certs;
    private final TlsEvents events;
    private final QueueSignal signal;
    private final DomainDelivery delivery;
    private final String heloName;
    private final String worker = host() + "-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<Thread> threads = new ArrayList<>();
    /** Messages each worker thread holds leases on, for {@link #renewLeases}. */
    private final Map<Thread, Set<Long>> holding = new ConcurrentHashMap<>();
    private ScheduledExecutorService renewer;
    private volatile boolean running;

    Scheduler(DeliveryConfig config, Claims claims, MessageQueue queue, Attempts attempts, PolicyClient policy, CertClient certs,
            TlsEvents events, QueueSignal signal, io.vertx.core.Vertx vertx,
            @ConfigProperty(name = "tlsgate.dns.server") Optional<String> dnsServer) {
        this.config = config;
        this.claims = claims;
        this.queue = queue;
        this.attempts = attempts;
        this.policy = policy;
        this.certs = certs;
        this.events = events;
        this.signal = signal;
        this.delivery = new DomainDelivery(vertx, new MxResolver(dnsServer), config.smtpPort(), attempts::nextDcid,
                new DomainDelivery.Limits(config.mxHostLimit(), config.connectionLimit(), config.domainDeadline(),
                        config.mxLocalAddresses(), new SmtpDeliveryAttempt.Timeouts(config.connectTimeout(),
                                config.replyTimeout(), config.dataTimeout(), config.handshakeTimeout(), null),
                        config.connectionIdle()));
        this.heloName = config.heloName().orElse(host());
    }

    void start(@Observes StartupEvent ignored) {
        if (!config.schedulerEnabled()) {
            LOG.info("delivery scheduler is off (tlsgate.delivery.scheduler-enabled=false)");
            return;
        }
        running = true;
        for (int i = 0; i < config.workers(); i++) {
            Thread t = new Thread(this::work, "delivery-worker-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        renewer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "delivery-lease-renewer");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(1, config.lease().toMillis() / 3);
        renewer.scheduleWithFixedDelay(this::renewLeases, every, every, TimeUnit.MILLISECONDS);
        LOG.infof("delivery scheduler: %d workers as %s, EHLO %s", config.workers(), worker, heloName);
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        if (renewer != null) {
            renewer.shutdownNow();
        }
        threads.forEach(Thread::interrupt);
        for (Thread t : threads) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void work() {
        while (running) {
            try {
                List<Claims.Work> due = claims.claim(worker, config.claimBatch(), config.lease());
                if (!due.isEmpty()) {
                    signal.fire(); // there may be more: one more idle worker looks
                }
                // Held while this thread works through the batch: the renewer keeps these
                // leases alive; whatever is left when the thread stops runs out and returns.
                Set<Long> held = ConcurrentHashMap.newKeySet();
                due.forEach(w -> held.add(w.mid()));
                holding.put(Thread.currentThread(), held);
                try {
                    for (List<Claims.Work> group : byDomain(due)) {
                        if (!running) {
                            break;
                        }
                        deliverSafely(group);
                    }
                } finally {
                    holding.remove(Thread.currentThread());
                }
                if (due.isEmpty()) {
                    signal.await(config.pollInterval());
                }
            } catch (InterruptedException e) {
                return;
            } catch (QueueUnavailableException e) {
                LOG.warnf("delivery queue unavailable: %s", e.getMessage());
                sleep(config.pollInterval().multipliedBy(5));
            }
        }
    }

    /** Extends the leases of the work in hand (every third of a lease), so long deliveries keep their claim. */
    private void renewLeases() {
        Set<Long> mids = new java.util.HashSet<>();
        holding.values().forEach(mids::addAll);
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

    private void deliverSafely(List<Claims.Work> group) {
        try {
            deliver(group);
        } catch (QueueUnavailableException e) {
            throw e;
        } catch (RuntimeException e) {
            LOG.errorf(e, "MID %s: delivery to %s failed unexpectedly", group.stream().map(Claims.Work::mid).toList(),
                    group.get(0).domain());
            for (Claims.Work w : group) {
                claims.defer(worker, w.mid(), w.rids(), Instant.now().plus(UPSTREAM_RETRY), "451 4.3.0 internal error");
            }
        }
    }

    /** The most content one group of messages holds in memory at once; a larger message goes alone. */
    private static final long GROUP_BYTES = 32L * 1024 * 1024;

    /**
     * Delivers messages for one domain and records the result of every recipient: the
     * domain's policy, route and TLS rules once, then the messages in pieces of up to the
     * policy's messages-per-connection (and {@link #GROUP_BYTES} of content), each piece over
     * as few connections as the peer allows.
     */
    void deliver(List<Claims.Work> works) {
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
            return;
        }
        BounceProfile profile = profile(settings, p.getBounceProfile());
        DomainDelivery.Tls domainTls;
        try {
            domainTls = tlsRules(settings, p);
        } catch (UpstreamUnavailable e) {
            works.forEach(w -> deferUpstream(w, e.getMessage()));
            return;
        }
        // With no entry of its own the domain gets `default`, unless an IP or CIDR entry
        // covers the address a connection goes to: that is known only per connection.
        Function<InetAddress, DomainDelivery.Tls> tlsFor = !"default".equals(p.getMatchedKey()) ? a -> domainTls : a -> {
            OutboundPolicy byAddress = policy.outbound(domain, a.getHostAddress());
            return "default".equals(byAddress.getMatchedKey()) ? domainTls : tlsRules(settings, byAddress);
        };
        DomainDelivery.Plan plan = delivery.plan(domain, route.getHopsList().stream().map(NextHop::getHost).toList(),
                route.getHopsList().stream().map(NextHop::getPort).toList(), route.getUseDns() || route.getHopsCount() == 0,
                preference(p));
        int perConnection = Math.max(1, p.getMaxMessagesPerConnection());
        List<Claims.Work> piece = new ArrayList<>();
        Map<Long, MessageQueue.Content> contents = new LinkedHashMap<>();
        long bytes = 0;
        for (Claims.Work w : works) {
            Optional<MessageQueue.Content> content = queue.content(w.mid());
            if (content.isEmpty()) {
                continue;
            }
            if (!piece.isEmpty() && (piece.size() == perConnection || bytes + content.get().data().length > GROUP_BYTES)) {
                deliverPiece(domain, piece, contents, plan, tlsFor, perConnection, settings, profile, domainTls);
                piece.clear();
                contents.clear();
                bytes = 0;
            }
            piece.add(w);
            contents.put(w.mid(), content.get());
            bytes += content.get().data().length;
        }
        if (!piece.isEmpty()) {
            deliverPiece(domain, piece, contents, plan, tlsFor, perConnection, settings, profile, domainTls);
        }
    }

    private void deliverPiece(String domain, List<Claims.Work> works, Map<Long, MessageQueue.Content> contents,
            DomainDelivery.Plan plan, Function<InetAddress, DomainDelivery.Tls> tlsFor, int perConnection,
            OutboundSettings settings, BounceProfile profile, DomainDelivery.Tls domainTls) {
        Instant now = Instant.now();
        List<SmtpDeliveryAttempt.Message> messages = works.stream().map(w -> new SmtpDeliveryAttempt.Message(w.mid(), w.rids(),
                contents.get(w.mid()).mailFrom(), w.addresses(), contents.get(w.mid()).data())).toList();
        DomainDelivery.Outcome all = delivery.deliver(domain, plan, tlsFor, heloName, messages, perConnection);
        for (DomainDelivery.Tried t : all.attempts()) {
            if (t.result() != null) {
                t.result().log().forEach(LOG::info);
                if (!t.result().reused()) {
                    // One event per TLS decision: an idle connection used again made none.
                    events.outcome(new TlsEvents.Connection(t.dcid(), t.mids(), t.ip(), t.host(), t.port(), domain,
                            t.tls().mode(), t.tls().source()), t.result(), now, settings.getAlertOnRequiredTlsFailure());
                }
            } else {
                LOG.info(t.error());
            }
        }
        for (Claims.Work w : works) {
            settle(w, contents.get(w.mid()), plan, all.of(w.mid()), profile, domainTls, now);
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
