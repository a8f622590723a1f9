package io.tlsgate.delivery.schedule;

import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.delivery.queue.Attempts;
import io.tlsgate.delivery.queue.Claims;
import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.NewMessage;
import io.tlsgate.delivery.smtp.DomainDelivery;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt;
import io.tlsgate.proto.policy.v1.BounceProfile;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The delivery phase that records results: per recipient delivered, deferred under the bounce
 * profile's back-off, or bounced (with a DSN to the sender when the profile says so), the
 * attempt records of GET /api/v1/messages/{mid}, and the mail-log lines of each.
 */
final class Settlement {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");
    private static final Pattern ENHANCED = Pattern.compile("^([245])\\d\\d[ -]([245]\\.\\d{1,3}\\.\\d{1,3})\\s*(.*)$",
            Pattern.DOTALL);
    private static final Duration UPSTREAM_RETRY = Duration.ofMinutes(1);

    private final Claims claims;
    private final MessageQueue queue;
    private final String worker;
    private final String heloName;

    private final io.tlsgate.delivery.events.DeliveryMetrics metrics;

    Settlement(Claims claims, MessageQueue queue, String worker, String heloName, io.tlsgate.delivery.events.DeliveryMetrics metrics) {
        this.metrics = metrics;
        this.claims = claims;
        this.queue = queue;
        this.worker = worker;
        this.heloName = heloName;
    }

    /** Records one message's recipients at this domain: delivered, deferred or bounced (with the DSN). */
    void settle(Claims.Batch batch, Claims.Work w, MessageQueue.Content m, DomainDelivery.Plan plan, DomainDelivery.Outcome o,
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
        record(batch, w, o, domainTls, delivered, bounced, deferred);
        int nDelivered = delivered.size();
        int nBounced = bounced.size();
        int nDeferred = deferred.size();
        batch.then(() -> {
            metrics.recipients("delivered", nDelivered);
            metrics.recipients("bounced", nBounced);
            metrics.recipients("deferred", nDeferred);
        });

        if (!delivered.isEmpty()) {
            batch.finish(w.mid(), List.copyOf(delivered.keySet()), Claims.Result.DELIVERED, delivered.values().iterator().next());
        }
        Map<String, List<Integer>> byReply = new LinkedHashMap<>();
        deferred.forEach((rid, reply) -> byReply.computeIfAbsent(reply, k -> new ArrayList<>()).add(rid));
        byReply.forEach((reply, rids) -> batch.defer(w.mid(), rids, next.orElseThrow(), reply).then(() -> LOG.infof(
                "Delayed: DCID %d MID %d to RID %s - %s - %s", dcid, w.mid(), rids, status(reply), text(reply))));
        if (!deferred.isEmpty()) {
            delayWarning(batch, w, m, profile, deferred, o, now);
        }
        if (!bounced.isEmpty()) {
            List<Dsn.Failed> failed = new ArrayList<>();
            for (Map.Entry<Integer, String> b : bounced.entrySet()) {
                batch.finish(w.mid(), List.of(b.getKey()), Claims.Result.BOUNCED, b.getValue()).then(() -> LOG.infof(
                        "Bounced: DCID %d MID %d to RID [%d] - %s - %s", dcid, w.mid(), b.getKey(), status(b.getValue()),
                        text(b.getValue())));
                failed.add(new Dsn.Failed(w.addresses().get(w.rids().indexOf(b.getKey())), status(b.getValue()), b.getValue(),
                        o.last() == null || o.attempts().isEmpty() ? null : o.attempts().get(o.attempts().size() - 1).host()));
            }
            if (profile.getSendHardBounces() && !m.mailFrom().isEmpty()) {
                bounce(batch, w.mid(), m.mailFrom(), failed);
            }
        }
    }

    /**
     * A delay warning to the sender (RFC 3464 {@code Action: delayed}) for the deferred
     * recipients that are due one under the bounce profile: it sends them, the message has
     * waited the profile's interval, this recipient's last warning (if any) is that long ago,
     * and it has had fewer than the maximum. Which recipients are due is decided and recorded
     * in the batch's transaction (so two replicas never both warn); the DSN is queued after it.
     */
    private void delayWarning(Claims.Batch batch, Claims.Work w, MessageQueue.Content m, BounceProfile profile,
            Map<Integer, String> deferred, DomainDelivery.Outcome o, Instant now) {
        int interval = profile.getDelayWarningIntervalSeconds() > 0 ? profile.getDelayWarningIntervalSeconds() : 14_400;
        int max = Math.max(1, profile.getMaxDelayWarnings());
        if (!profile.getSendDelayWarnings() || m.mailFrom().isEmpty() || m.receivedAt().plusSeconds(interval).isAfter(now)) {
            return;
        }
        List<Integer> due = new ArrayList<>();
        batch.within(c -> {
            try (java.sql.PreparedStatement ps = c.prepareStatement("update recipient set delay_warnings = delay_warnings + 1, "
                    + "last_delay_warning_at = now() where mid = ? and rid = any(?) and state = 'QUEUED' and leased_by = ? "
                    + "and lease_until >= now() "
                    + "and delay_warnings < ? and (last_delay_warning_at is null "
                    + "or last_delay_warning_at <= now() - make_interval(secs => ?)) returning rid")) {
                ps.setLong(1, w.mid());
                ps.setArray(2, c.createArrayOf("integer", deferred.keySet().toArray()));
                ps.setString(3, worker);
                ps.setInt(4, max);
                ps.setInt(5, interval);
                try (java.sql.ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        due.add(r.getInt(1));
                    }
                }
            }
        });
        String remote = o.attempts().isEmpty() ? null : o.attempts().get(o.attempts().size() - 1).host();
        Instant until = m.receivedAt().plusSeconds(Math.max(0, profile.getMaxTimeInQueueSeconds()));
        // The notice is queued in the same transaction as the count it is recorded by.
        long[] dsnMid = {0};
        batch.within(c -> {
            if (due.isEmpty()) {
                return;
            }
            List<Dsn.Failed> delayed = due.stream().sorted().map(rid -> new Dsn.Failed(w.addresses().get(w.rids().indexOf(rid)),
                    status(deferred.get(rid)), deferred.get(rid), remote)).toList();
            byte[] dsn = Dsn.delayed(heloName, m.mailFrom(), w.mid(), delayed, m.receivedAt().atZone(ZoneOffset.UTC),
                    Instant.now().atZone(ZoneOffset.UTC), until.atZone(ZoneOffset.UTC));
            try {
                dsnMid[0] = queue.enqueueIn(c, new NewMessage("", List.of(m.mailFrom()), NewMessage.Content.of(dsn), dsn.length, 0,
                        null, NewMessage.TlsFacts.NONE));
            } catch (IllegalArgumentException e) {
                LOG.warnf("MID %d: no delay warning could be queued for %s: %s", w.mid(), m.mailFrom(), e.getMessage());
            }
        });
        batch.then(() -> {
            if (dsnMid[0] != 0) {
                LOG.infof("Start MID %d ICID 0", dsnMid[0]);
                LOG.infof("MID %d delay warning for MID %d to RID %s", dsnMid[0], w.mid(), due.stream().sorted().toList());
            }
        });
    }

    /** Sorts the recipients into delivered, bounced and deferred, each with the reply that decided it. */
    private static void classify(Claims.Work w, OutboundTlsMode mode, DomainDelivery.Plan plan, DomainDelivery.Outcome o,
            Map<Integer, String> delivered, Map<Integer, String> bounced, Map<Integer, String> deferred) {
        SmtpDeliveryAttempt.Result last = o.last();
        // A failed TLS decision answers no message, except a host refused for good (REQUIRETLS): its replies decide.
        boolean answered = last != null && (last.action() != Action.TEMPFAIL || !last.transactions().isEmpty());
        if (answered && last.rcptReplies().size() == w.rids().size()) {
            for (int i = 0; i < w.rids().size(); i++) {
                int rid = w.rids().get(i);
                String reply = last.rcptReplies().get(i);
                if (reply.startsWith("2")) {
                    String data = last.dataReply() == null ? "451 4.4.2 connection lost during DATA" : last.dataReply();
                    (data.startsWith("250") ? delivered : data.startsWith("5") ? bounced : deferred).put(rid, data);
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

    private static void record(Claims.Batch batch, Claims.Work w, DomainDelivery.Outcome o, DomainDelivery.Tls domainTls,
            Map<Integer, String> delivered, Map<Integer, String> bounced, Map<Integer, String> deferred) {
        String finalOutcome = delivered.size() == w.rids().size() ? "delivered" : bounced.size() == w.rids().size() ? "bounced"
                : deferred.size() == w.rids().size() ? "deferred" : "partly";
        String finalReply = !delivered.isEmpty() ? delivered.values().iterator().next()
                : !deferred.isEmpty() ? deferred.values().iterator().next() : bounced.values().iterator().next();
        if (o.attempts().isEmpty()) {
            batch.attempt(w.mid(), new Attempts.Attempt(0, Instant.now(), w.rids(), w.domain(), null, null, null,
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
                    : new Attempts.Tls(mode.name(), t.tls().source(), OutboundTlsDecision.result(mode, r.action()).wire(),
                            r.protocol(), r.cipher(), r.verification().wire(), r.resultType() == null ? null : r.resultType().wire());
            batch.attempt(w.mid(), new Attempts.Attempt(t.dcid(), Instant.now(), w.rids(), w.domain(), t.host(), t.ip(), t.port(),
                    tls, lastOne ? finalOutcome : "deferred", lastOne ? finalReply : t.error() != null ? t.error()
                            : "TLS: " + (r.resultType() == null ? null : r.resultType().wire())));
        }
    }

    /** A failure DSN to the sender, queued in the batch's transaction: the bounce and its notice commit together. */
    private void bounce(Claims.Batch batch, long mid, String sender, List<Dsn.Failed> failed) {
        byte[] dsn = Dsn.build(heloName, sender, mid, failed, Instant.now().atZone(ZoneOffset.UTC));
        notice(batch, mid, sender, dsn, "DSN for MID " + mid + " to " + failed.size() + " recipient(s)");
    }

    /**
     * Queues {@code dsn} from {@code <>} to {@code sender} in the batch's transaction (a crash
     * loses neither the result nor its notice, or both) and logs it after the commit.
     */
    private void notice(Claims.Batch batch, long mid, String sender, byte[] dsn, String what) {
        long[] dsnMid = {0};
        batch.within(c -> {
            try {
                dsnMid[0] = queue.enqueueIn(c, new NewMessage("", List.of(sender), NewMessage.Content.of(dsn), dsn.length, 0, null,
                        NewMessage.TlsFacts.NONE));
            } catch (IllegalArgumentException e) {
                LOG.warnf("MID %d: no notice could be queued for %s: %s", mid, sender, e.getMessage());
            }
        });
        batch.then(() -> {
            if (dsnMid[0] != 0) {
                LOG.infof("Start MID %d ICID 0", dsnMid[0]);
                LOG.infof("MID %d %s", dsnMid[0], what);
            }
        });
    }

    /** Puts work back for a minute, an attempt counted: an upstream service is away, or worse ({@code reply} says which). */
    void deferUpstream(List<Claims.Work> works, String reply) {
        Claims.Batch batch = new Claims.Batch();
        Instant next = Instant.now().plus(UPSTREAM_RETRY);
        batch.then(() -> metrics.recipients("deferred", works.stream().mapToInt(w -> w.rids().size()).sum()));
        works.forEach(w -> batch.defer(w.mid(), w.rids(), next, reply).then(() -> LOG.infof(
                "Delayed: DCID 0 MID %d to RID %s - %s - %s", w.mid(), w.rids(), status(reply), text(reply))));
        claims.commit(worker, batch);
    }

    /**
     * Puts work back until {@code until} with no attempt counted (a destination limit held it
     * back), with its mail-log line once recorded.
     */
    static void postpone(Claims.Batch batch, Claims.Work w, Instant until, String reply) {
        batch.postpone(w.mid(), w.rids(), until, reply).then(() -> LOG.infof("Delayed: DCID 0 MID %d to RID %s - %s - %s",
                w.mid(), w.rids(), status(reply), text(reply)));
    }

    /** Records a batch this worker built. */
    void commit(Claims.Batch batch) {
        claims.commit(worker, batch);
    }

    private static RetrySchedule schedule(BounceProfile b) {
        return new RetrySchedule(b.getMaxRetries(), Duration.ofSeconds(b.getMaxTimeInQueueSeconds()),
                Duration.ofSeconds(b.getInitialRetrySeconds()), Duration.ofSeconds(b.getMaxRetrySeconds()));
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
}
