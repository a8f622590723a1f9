package io.tlsgate.delivery.sts;

import io.tlsgate.core.sts.MtaStsPolicy;
import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.platform.dns.DnsResolver;
import io.tlsgate.platform.dns.MxResolver;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.jboss.logging.Logger;
import org.xbill.DNS.Record;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

/**
 * A destination domain's MTA-STS policy (RFC 8461 §5): the cached one while its
 * {@code _mta-sts} TXT record names it (looked at again every {@code checkInterval}), fetched
 * again when the id changes or the cached one comes within {@code refreshBefore} of its
 * max_age (at most half of it); a cached policy that has not expired is used while the TXT record or the policy
 * host cannot be reached (RFC 8461 §5.1), an expired one never. Runs on a worker thread (it
 * waits for DNS, HTTPS and PostgreSQL).
 */
public final class MtaSts {

    private static final Logger LOG = Logger.getLogger("io.tlsgate.maillog");

    /**
     * What applies to a domain: the policy and its id (null: none), and why there is none when
     * the domain published one that could not be had (RFC 8460 type and details), for reports.
     */
    public record Lookup(MtaStsPolicy policy, String id, TlsResultType failure, String detail) {

        public static final Lookup NONE = new Lookup(null, null, null, null);

        public boolean applies() {
            return policy != null && policy.mode() != MtaStsPolicy.Mode.NONE;
        }

        /** How events and the mail log name the policy: {@code mta-sts <mode> id <id>}. */
        public String source() {
            return "mta-sts " + policy.mode().wire() + " id " + id;
        }
    }

    /** The settings of {@code tlsgate.delivery.mta-sts.*}. */
    public record Settings(int httpsPort, Duration fetchTimeout, int maxPolicySize, Duration checkInterval, Duration refreshBefore,
            boolean mayBeLocal) {}

    private final DnsResolver dns;
    private final PolicyCache cache;
    private final PolicyFetcher fetcher;
    private final Settings settings;
    /**
     * Domains found without a policy (no TXT record, nothing cached), until when that is believed
     * without asking again (check-interval): most domains publish none, and their mail should
     * not cost a database read and a DNS query per delivery. Per replica, at most 10,000.
     */
    private final java.util.Map<String, Instant> withoutPolicy = recent(10_000);

    /** A failed fetch of one id, not tried again before {@code until}. */
    private record Failed(Instant until, TlsResultType type, String detail) {}

    private static final Duration FAILED_FETCH_PAUSE = Duration.ofMinutes(5);
    private final java.util.Map<String, Failed> failures = recent(10_000);
    /** The fetch running for a domain, which other workers wait for instead of fetching too. */
    private final java.util.concurrent.ConcurrentHashMap<String, CompletableFuture<Lookup>> inFlight =
            new java.util.concurrent.ConcurrentHashMap<>();

    public MtaSts(DnsResolver dns, DataSource dataSource, Settings settings) {
        this.dns = dns;
        this.cache = new PolicyCache(dataSource);
        this.fetcher = new PolicyFetcher(new MxResolver(dns), settings.httpsPort(), settings.fetchTimeout(), settings.maxPolicySize(),
                settings.mayBeLocal());
        this.settings = settings;
    }

    /**
     * {@code domain}'s policy now; {@code anchors} (asked only when a policy is fetched) are the
     * trust anchors the policy host's certificate must chain to.
     */
    public Lookup lookup(String domain, Supplier<List<X509Certificate>> anchors) {
        Instant now = Instant.now();
        Instant none = withoutPolicy.get(domain);
        if (none != null && now.isBefore(none)) {
            return Lookup.NONE;
        }
        Optional<PolicyCache.Entry> cached = cache.get(domain).filter(e -> {
            if (e.expired(now)) {
                cache.delete(domain);
                return false;
            }
            return true;
        });
        if (cached.isPresent() && now.isBefore(cached.get().checkedAt().plus(settings.checkInterval()))
                && now.isBefore(refreshAt(cached.get()))) {
            return of(cached.get());
        }
        String id;
        try {
            id = policyId(domain);
        } catch (MtaStsPolicy.Invalid e) {
            return cached.map(MtaSts::of).orElseGet(() -> failed(domain, TlsResultType.STS_POLICY_INVALID, e.getMessage()));
        } catch (TxtUnavailable e) {
            // DNS trouble: keep to a policy still valid (RFC 8461 §5.1), else there is none to apply.
            return cached.map(MtaSts::of).orElse(Lookup.NONE);
        }
        if (id == null) {
            // No record (any more): a cached policy holds until it expires, as the RFC says.
            if (cached.isEmpty()) {
                withoutPolicy.put(domain, now.plus(settings.checkInterval()));
            }
            return cached.map(MtaSts::of).orElse(Lookup.NONE);
        }
        withoutPolicy.remove(domain);
        if (cached.isPresent() && cached.get().id().equals(id) && now.isBefore(refreshAt(cached.get()))) {
            return of(cache.checked(domain, cached.get(), now));
        }
        Failed recent = failures.get(domain + " " + id);
        if (recent != null && now.isBefore(recent.until())) {
            // RFC 8461 §3.3: a failed fetch is not tried again for the same id within 5 minutes.
            return cached.map(MtaSts::of).orElseGet(() -> new Lookup(null, null, recent.type(), recent.detail()));
        }
        CompletableFuture<Lookup> mine = new CompletableFuture<>();
        CompletableFuture<Lookup> running = inFlight.putIfAbsent(domain, mine);
        if (running != null) {
            // Another worker is fetching this domain's policy: its answer is this one's too.
            try {
                return running.get(settings.fetchTimeout().toMillis() + 5_000, TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                return cached.map(MtaSts::of).orElse(Lookup.NONE);
            }
        }
        try {
            Lookup l = fetch(domain, id, cached, anchors, now);
            mine.complete(l);
            return l;
        } catch (RuntimeException e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            inFlight.remove(domain, mine);
        }
    }

    private Lookup fetch(String domain, String id, Optional<PolicyCache.Entry> cached, Supplier<List<X509Certificate>> anchors,
            Instant now) {
        MtaStsPolicy policy;
        try {
            policy = MtaStsPolicy.parse(fetcher.fetch(domain, anchors.get()));
        } catch (PolicyFetcher.Failure f) {
            return failedFetch(domain, id, cached, f.type, f.getMessage(), now);
        } catch (MtaStsPolicy.Invalid e) {
            return failedFetch(domain, id, cached, TlsResultType.STS_POLICY_INVALID, e.getMessage(), now);
        } catch (RuntimeException e) {
            // e.g. cert-service could not give the anchors: a valid cached policy still applies
            return failedFetch(domain, id, cached, TlsResultType.STS_POLICY_FETCH_ERROR, String.valueOf(e.getMessage()), now);
        }
        LOG.infof("MTA-STS policy of %s fetched: id %s, mode %s, mx %s, max_age %d", domain, id, policy.mode().wire(),
                policy.mx(), policy.maxAgeSeconds());
        failures.remove(domain + " " + id);
        try {
            return of(cache.put(domain, id, policy, now));
        } catch (RuntimeException e) {
            // Not stored (the database is away): applied all the same, never dropped for that.
            LOG.warnf("MTA-STS policy of %s (id %s) not stored: %s", domain, id, e.getMessage());
            return new Lookup(policy, id, null, null);
        }
    }

    private Lookup failedFetch(String domain, String id, Optional<PolicyCache.Entry> cached, TlsResultType type, String detail,
            Instant now) {
        failures.put(domain + " " + id, new Failed(now.plus(FAILED_FETCH_PAUSE), type, detail));
        return cached.map(MtaSts::of).orElseGet(() -> failed(domain, type, detail));
    }

    /** A thread-safe map that forgets its least recently used entry beyond {@code max}. */
    private static <V> java.util.Map<String, V> recent(int max) {
        return java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>(64, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(java.util.Map.Entry<String, V> eldest) {
                return size() > max;
            }
        });
    }

    /**
     * Fetches again the cached policies that are due (RFC 8461 §5.1: refreshed before they
     * expire, also for domains no mail went to lately, so that a policy never lapses and the
     * next message waits for no fetch); at most 100 a round. Returns how many were looked at.
     */
    public int refreshDue(Supplier<List<X509Certificate>> anchors) {
        List<String> due = cache.due(settings.refreshBefore(), 100);
        for (String domain : due) {
            lookup(domain, anchors);
        }
        return due.size();
    }

    /**
     * When a cached policy is fetched again although its id did not change: {@code refreshBefore}
     * ahead of its expiry, but never before half its max_age (a short max_age is not a reason to
     * fetch on every delivery).
     */
    private Instant refreshAt(PolicyCache.Entry e) {
        Duration half = Duration.ofSeconds(e.policy().maxAgeSeconds() / 2);
        return e.expiresAt().minus(settings.refreshBefore().compareTo(half) < 0 ? settings.refreshBefore() : half);
    }

    private static Lookup of(PolicyCache.Entry e) {
        return new Lookup(e.policy(), e.id(), null, null);
    }

    private static Lookup failed(String domain, TlsResultType type, String detail) {
        LOG.infof("MTA-STS policy of %s not usable (%s): %s; delivering without", domain, type.wire(), detail);
        return new Lookup(null, null, type, detail);
    }

    private String policyId(String domain) throws MtaStsPolicy.Invalid, TxtUnavailable {
        DnsResolver.Answer a = dns.query("_mta-sts." + domain, Type.TXT).join();
        if (a.nxdomain()) {
            return null;
        }
        if (a.failed()) {
            throw new TxtUnavailable();
        }
        List<String> texts = new ArrayList<>();
        for (Record r : a.records()) {
            if (r instanceof TXTRecord t) {
                texts.add(String.join("", t.getStrings())); // one record may come in several strings
            }
        }
        return MtaStsPolicy.policyId(texts);
    }

    private static final class TxtUnavailable extends Exception {
        TxtUnavailable() {
            super(null, null, false, false);
        }
    }
}
