package io.tlsgate.delivery.schedule;

import io.tlsgate.core.tls.TlsOutcome;
import io.tlsgate.delivery.events.TlsEvents;
import io.tlsgate.delivery.queue.TlsRequest;
import io.tlsgate.delivery.limits.ConcurrencyWindow;
import io.tlsgate.delivery.limits.ConnectionSlots;
import io.tlsgate.delivery.limits.DestinationLimits;
import io.tlsgate.delivery.limits.RecipientRate;
import io.tlsgate.delivery.queue.Claims;
import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.QueueUnavailableException;
import io.tlsgate.delivery.smtp.DomainDelivery;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.tlsgate.platform.bounce.BounceVerification;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.net.InetAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * One claimed group (messages for one domain) from rules to results: the domain's rules
 * ({@link DomainRules}), the recipient limit, the contents, then the pieces side by side on the
 * event loop under the concurrency limit ({@link DomainDelivery#start}), and each piece's
 * mail-log lines, TLS events and results ({@link Settlement}) on a worker thread.
 */
final class GroupDelivery {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");
    /** How long work held back by a concurrency limit waits before it is tried again. */
    private static final java.time.Duration LIMIT_RETRY = java.time.Duration.ofSeconds(1);

    private final MessageQueue queue;
    private final DomainRules rules;
    private final RecipientRate rate;
    private final ConnectionSlots slots;
    private final ConcurrencyWindow window;
    private final DomainDelivery delivery;
    private final Settlement settlement;
    private final TlsEvents events;
    private final String heloName;
    /** Room for message content in memory, in KiB (tlsgate.delivery.max-content-in-flight). */
    private final Semaphore contentRoom;
    private final int contentKib;
    private final Executor blocking;
    private final Consumer<Instant> wakeAt;
    private final BiConsumer<String, Instant> limited;

    /**
     * @param wakeAt looks for due work again then
     * @param limited a domain whose concurrency limit refused a connection, and until when it is not claimed
     */
    /** Envelope senders of mail to destinations with bounceVerification on are tagged (docs/bounce-verification.md). */
    private final BounceVerification bounceTags;
    private volatile boolean warnedUntagged;

    GroupDelivery(MessageQueue queue, DomainRules rules, RecipientRate rate, ConnectionSlots slots, ConcurrencyWindow window,
            DomainDelivery delivery, Settlement settlement, TlsEvents events, String heloName, long maxContentInFlight,
            Executor blocking, Consumer<Instant> wakeAt, BiConsumer<String, Instant> limited, BounceVerification bounceTags) {
        this.bounceTags = bounceTags;
        this.queue = queue;
        this.rules = rules;
        this.rate = rate;
        this.slots = slots;
        this.window = window;
        this.delivery = delivery;
        this.settlement = settlement;
        this.events = events;
        this.heloName = heloName;
        this.contentKib = (int) Math.min(Integer.MAX_VALUE, Math.max(1, maxContentInFlight / 1024));
        this.contentRoom = new Semaphore(contentKib);
        this.blocking = blocking;
        this.wakeAt = wakeAt;
        this.limited = limited;
    }

    /** Runs {@code task} on a worker thread (it may block briefly: database, policy, DNS). */
    <T> Future<T> onWorker(java.util.concurrent.Callable<T> task) {
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

    /** The most content one piece of messages holds in memory at once; a larger message goes alone. */
    private static final long GROUP_BYTES = 32L * 1024 * 1024;

    /**
     * Delivers messages for one domain (called on a worker thread) and records the result of
     * every recipient: the domain's policy, route, TLS rules and limits once, then the messages
     * the recipient limit lets go now, in pieces of up to the policy's messages-per-connection
     * (and {@link #GROUP_BYTES} of content), the pieces side by side, each over as few
     * connections as the peer allows. Messages whose senders asked something of their
     * transport (REQUIRETLS, {@code TLS-Required: No}) go in pieces of their own under their
     * own TLS rules. Completes when every recipient is recorded.
     */
    Future<Void> deliver(List<Claims.Work> works) {
        String domain = works.get(0).domain();
        String redirect = works.get(0).redirect();
        DomainRules.Rules rules;
        try {
            rules = redirect == null ? this.rules.of(domain) : this.rules.redirected(domain, redirect);
        } catch (DomainRules.Unavailable e) {
            settlement.deferUpstream(works, e.getMessage());
            return Future.succeededFuture();
        }
        List<Claims.Work> admitted = admit(domain, works, rules);
        // Cut by the stored sizes first, so no more than one piece's content is read at once.
        Map<Long, MessageQueue.Stored> stored = admitted.isEmpty() ? Map.of()
                : queue.stored(admitted.stream().map(Claims.Work::mid).toList());
        Map<TlsRequest, List<Claims.Work>> byRequest = new java.util.EnumMap<>(TlsRequest.class);
        for (Claims.Work w : admitted) {
            MessageQueue.Stored s = stored.get(w.mid());
            if (s != null) { // else gone meanwhile (an operator deleted it)
                byRequest.computeIfAbsent(s.tlsRequest(), k -> new ArrayList<>()).add(w);
            }
        }
        List<Future<Void>> pieces = new ArrayList<>();
        for (Map.Entry<TlsRequest, List<Claims.Work>> e : byRequest.entrySet()) {
            DomainRules.Rules own;
            try {
                own = this.rules.forRequest(rules, e.getKey());
            } catch (DomainRules.Unavailable u) {
                settlement.deferUpstream(e.getValue(), u.getMessage());
                continue;
            }
            pieces.addAll(pieces(domain, e.getValue(), stored, own));
        }
        return Future.join(pieces).mapEmpty();
    }

    /** Pieces of up to the policy's messages per connection and {@link #GROUP_BYTES}, each started in the window. */
    private List<Future<Void>> pieces(String domain, List<Claims.Work> works, Map<Long, MessageQueue.Stored> stored,
            DomainRules.Rules rules) {
        int perConnection = Math.max(1, rules.policy().getMaxMessagesPerConnection());
        List<Future<Void>> pieces = new ArrayList<>();
        List<Claims.Work> piece = new ArrayList<>();
        long bytes = 0;
        for (Claims.Work w : works) {
            long size = stored.get(w.mid()).size();
            if (!piece.isEmpty() && (piece.size() == perConnection || bytes + size > GROUP_BYTES)) {
                pieces.add(inWindow(domain, List.copyOf(piece), rules));
                piece.clear();
                bytes = 0;
            }
            piece.add(w);
            bytes += size;
        }
        if (!piece.isEmpty()) {
            pieces.add(inWindow(domain, piece, rules));
        }
        return pieces;
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
        } catch (IllegalStateException e) {
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
            wakeAt.accept(g.next());
        }
        return works.subList(0, g.messages());
    }

    /**
     * One piece, once the domain's {@link ConcurrencyWindow} has room for it (it waits there
     * without its content); its place is given back with what the piece showed.
     */
    private Future<Void> inWindow(String domain, List<Claims.Work> piece, DomainRules.Rules rules) {
        int max = Math.max(1, rules.policy().getMaxConcurrentConnections());
        return window.enter(domain, max).compose(ticket -> onWorker(() -> {
            try {
                return deliverPiece(domain, piece, rules, ticket);
            } catch (RuntimeException e) {
                ticket.done(ConcurrencyWindow.Feedback.NONE);
                throw e;
            }
        }).compose(f -> f), e -> e instanceof ConcurrencyWindow.Suspended s ? onWorker(() -> {
            suspend(piece, rules, s);
            return null;
        }) : Future.failedFuture(e));
    }

    /**
     * A piece that waited for a domain that is not being reached: back to the queue, no attempt
     * counted (it made none), until the bounce profile's first retry interval has passed.
     */
    private void suspend(List<Claims.Work> piece, DomainRules.Rules rules, ConcurrencyWindow.Suspended why) {
        Claims.Batch later = new Claims.Batch();
        Instant until = Instant.now().plusSeconds(Math.max(60, rules.profile().getInitialRetrySeconds()));
        piece.forEach(w -> Settlement.postpone(later, w, until, "451 4.4.1 " + why.getMessage()));
        settlement.commit(later);
    }

    /** What a piece's connections showed about the destination, for its window. */
    private static ConcurrencyWindow.Feedback feedback(DomainDelivery.Outcome o) {
        if (o.attempts().stream().anyMatch(t -> t.result() != null && !t.result().transactions().isEmpty())) {
            return ConcurrencyWindow.Feedback.REACHED;
        }
        if (!o.attempts().isEmpty() && o.attempts().stream().allMatch(t -> t.result() == null) && !o.limited()) {
            return ConcurrencyWindow.Feedback.UNREACHABLE;
        }
        return ConcurrencyWindow.Feedback.NONE;
    }

    /**
     * One piece: its content held against {@link #contentRoom}, delivered on the event loop
     * under the domain's concurrency limit, then recorded on a worker thread.
     */
    private Future<Void> deliverPiece(String domain, List<Claims.Work> piece, DomainRules.Rules rules,
            ConcurrencyWindow.Ticket ticket) {
        Map<Long, MessageQueue.Content> contents = queue.contents(piece.stream().map(Claims.Work::mid).toList());
        List<Claims.Work> works = piece.stream().filter(w -> contents.containsKey(w.mid())).toList();
        if (works.isEmpty()) {
            ticket.done(ConcurrencyWindow.Feedback.NONE);
            return Future.succeededFuture();
        }
        long bytes = contents.values().stream().mapToLong(c -> c.data().length).sum();
        int kib = (int) Math.min(contentKib, Math.max(1, bytes / 1024));
        contentRoom.acquireUninterruptibly(kib);
        Instant now = Instant.now();
        boolean tag = rules.policy().getBounceVerification();
        if (tag && !bounceTags.enabled() && !warnedUntagged) {
            warnedUntagged = true;
            LOG.warnf("%s has bounceVerification on, but tlsgate.bounce-verification.keys is not set: senders go untagged", domain);
        }
        List<SmtpDeliveryAttempt.Message> messages = works.stream().map(w -> new SmtpDeliveryAttempt.Message(w.mid(), w.rids(),
                tag ? bounceTags.tag(contents.get(w.mid()).mailFrom()) : contents.get(w.mid()).mailFrom(), w.addresses(),
                contents.get(w.mid()).data())).toList();
        Future<DomainDelivery.Outcome> sent;
        try {
            sent = delivery.start(domain, rules.plan(), rules.tlsFor(), heloName, messages,
                    Math.max(1, rules.policy().getMaxMessagesPerConnection()), slots.gate(domain, rules.limits()));
        } catch (RuntimeException e) {
            sent = Future.failedFuture(e);
        }
        return sent.onComplete(ar -> {
                    contentRoom.release(kib);
                    ticket.done(ar.succeeded() ? feedback(ar.result()) : ConcurrencyWindow.Feedback.NONE);
                })
                .compose(all -> onWorker(() -> {
                    record(domain, works, contents, all, rules, now);
                    return null;
                }));
    }

    /** The connections' log lines and events, then each message's recipients. */
    private void record(String domain, List<Claims.Work> works, Map<Long, MessageQueue.Content> contents,
            DomainDelivery.Outcome all, DomainRules.Rules rules, Instant now) {
        Claims.Batch batch = new Claims.Batch();
        for (DomainDelivery.Tried t : all.attempts()) {
            if (t.result() != null) {
                t.result().log().forEach(LOG::info);
                if (!t.result().reused()) {
                    // One event per TLS decision: an idle connection used again made none.
                    batch.within(events.outcome(new TlsOutcome.Outbound(t.dcid(), t.mids(), t.ip(), t.host(), t.port(), domain),
                            t.tls().mode(), t.tls().source(), t.result(), now, rules.settings().getAlertOnRequiredTlsFailure()));
                }
            } else {
                LOG.info(t.error());
            }
        }
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
            limited.accept(domain, retry);
            wakeAt.accept(retry);
        }
    }
}
