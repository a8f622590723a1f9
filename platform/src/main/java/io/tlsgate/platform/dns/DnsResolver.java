package io.tlsgate.platform.dns;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.ResolverConfig;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;

/**
 * The one DNS layer of every service: asynchronous queries (no thread waits on a socket) to
 * one or more resolvers with fail-over, answered first from the hosts file, then from a bounded
 * cache that honours the answers' TTLs and the negative TTLs of RFC 2308, with concurrent
 * queries for the same name and type sharing one lookup.
 *
 * <p>Each try waits {@code tryTimeout}; a try that times out, or gets SERVFAIL or REFUSED, goes
 * to the next resolver, up to {@code attempts} tries in all. Answers are handed out on the
 * layer's own threads (dnsjava's default is the common fork-join pool, one thread on two cores,
 * shared with whatever else runs there).
 *
 * <p>Why all this (measured on the development VM): its resolver answers a burst of 32 PTR
 * queries at once but only 27-55 of a burst of 200, the rest never; the listener asked it twice
 * per connection, without cache, hosts file or second try, so under 16 concurrent clients most
 * greetings waited out the whole reverse-DNS budget.
 */
public final class DnsResolver {

    /**
     * @param servers resolvers, tried in this order (empty: those of {@code /etc/resolv.conf})
     * @param tryTimeout how long one try waits for its answer
     * @param attempts tries per query, over the resolvers in turn
     * @param cacheSize answers kept at most (the least recently used go first); 0: no cache
     * @param maxTtl the longest an answer is kept whatever its TTL
     * @param hosts names and addresses answered without DNS ({@link HostsFile#NONE}: none)
     * @param trustAnchors DNSSEC trust anchors (DS or DNSKEY records in zone-file form): when
     *     set, every answer is validated here ({@link Answer#secure}, {@link Answer#bogus});
     *     null: answers are taken as they come
     */
    public record Settings(List<InetSocketAddress> servers, Duration tryTimeout, int attempts, int cacheSize,
            Duration maxTtl, HostsFile hosts, String trustAnchors) {

        public Settings(List<InetSocketAddress> servers, Duration tryTimeout, int attempts, int cacheSize, Duration maxTtl,
                HostsFile hosts) {
            this(servers, tryTimeout, attempts, cacheSize, maxTtl, hosts, null);
        }

        /** {@code server}: {@code host:port[,host:port...]} ({@code tlsgate.dns.server}), else the system's resolvers. */
        public static Settings of(Optional<String> server) {
            return new Settings(parseServers(server.orElse("")), Duration.ofSeconds(2), 3, 10_000, Duration.ofDays(1),
                    HostsFile.system());
        }
    }

    /**
     * An answer: the response code and the answer section's records ({@code NOERROR} with none
     * is "no such data"), where it came from, and a failure text when no resolver answered.
     * A validating resolver's answers also say whether DNSSEC proved them ({@code secure}: the
     * records, or that there are none) or found them forged or broken ({@code bogus}: a failure).
     */
    public record Answer(int rcode, List<Record> records, Source source, String failure, boolean secure, boolean bogus) {

        public Answer(int rcode, List<Record> records, Source source, String failure) {
            this(rcode, records, source, failure, false, false);
        }
        public boolean ok() {
            return failure == null && rcode == Rcode.NOERROR;
        }

        public boolean nxdomain() {
            return failure == null && rcode == Rcode.NXDOMAIN;
        }

        /** No resolver gave an answer (time-outs, SERVFAIL, REFUSED): try again later. */
        public boolean failed() {
            return failure != null;
        }
    }

    /** Where an answer came from. */
    public enum Source { HOSTS, CACHE, DNS }

    /** Counters since start. */
    public record Stats(long queries, long cacheHits, long hostsHits, long timeouts, long failures, int cached) {}

    private record Key(Name name, int type) {}

    private record Cached(Answer answer, long expiresAt) {}

    /** A resolver's answer and how long it may be kept (seconds; 0: not at all). */
    private record Response(Answer answer, long ttl) {}

    private static final AtomicInteger THREADS = new AtomicInteger();

    private final Settings settings;
    private final List<org.xbill.DNS.Resolver> resolvers = new ArrayList<>();
    private final List<String> names = new ArrayList<>();
    private final Executor executor;
    private final Map<Key, Cached> cache;
    private final Map<Key, CompletableFuture<Answer>> inFlight = new ConcurrentHashMap<>();
    private final AtomicLong queries = new AtomicLong();
    private final AtomicLong cacheHits = new AtomicLong();
    private final AtomicLong hostsHits = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();

    public DnsResolver(Settings settings) {
        this.settings = settings;
        List<InetSocketAddress> servers = settings.servers().isEmpty() ? systemServers() : settings.servers();
        for (InetSocketAddress s : servers) {
            SimpleResolver r = new SimpleResolver(s);
            r.setTimeout(settings.tryTimeout());
            resolvers.add(settings.trustAnchors() == null ? r : validating(r, settings.trustAnchors()));
            names.add(s.getAddress().getHostAddress() + ":" + s.getPort());
        }
        // Answers are handed out here: cheap work only (parse, cache, complete); idle threads go away.
        ThreadPoolExecutor pool = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "dns-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        pool.allowCoreThreadTimeOut(true);
        this.executor = pool;
        int size = settings.cacheSize();
        this.cache = new LinkedHashMap<>(256, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Key, Cached> eldest) {
                return size() > size;
            }
        };
    }

    /** A shared resolver per {@code tlsgate.dns.server} value, with the default settings. */
    public static DnsResolver shared(Optional<String> server) {
        return SHARED.computeIfAbsent(server.orElse(""), s -> new DnsResolver(Settings.of(server)));
    }

    private static final Map<String, DnsResolver> SHARED = new ConcurrentHashMap<>();

    /** The answer for {@code name} and {@code type}; never completes exceptionally. */
    public CompletableFuture<Answer> query(Name name, int type) {
        queries.incrementAndGet();
        Name n = name.canonicalize(); // names compare case-blind (RFC 4343)
        Answer fromHosts = settings.hosts().answer(n, type);
        if (fromHosts != null) {
            hostsHits.incrementAndGet();
            return CompletableFuture.completedFuture(fromHosts);
        }
        Key key = new Key(n, type);
        Answer cached = cached(key);
        if (cached != null) {
            cacheHits.incrementAndGet();
            return CompletableFuture.completedFuture(cached);
        }
        CompletableFuture<Answer> created = new CompletableFuture<>();
        CompletableFuture<Answer> running = inFlight.putIfAbsent(key, created);
        if (running != null) {
            cacheHits.incrementAndGet();
            return running;
        }
        Message q = Message.newQuery(Record.newRecord(n, type, DClass.IN));
        attempt(q, 0, null, false).whenComplete((r, e) -> {
            Response response = e != null ? new Response(new Answer(Rcode.SERVFAIL, List.of(), Source.DNS, String.valueOf(e)), 0) : r;
            store(key, response);
            inFlight.remove(key);
            created.complete(response.answer());
        });
        return created;
    }

    /** {@link #query} by name text. */
    public CompletableFuture<Answer> query(String name, int type) {
        try {
            return query(Name.fromString(name.endsWith(".") ? name : name + "."), type);
        } catch (org.xbill.DNS.TextParseException e) {
            throw new IllegalArgumentException("'" + name + "' is not a domain name");
        }
    }

    /** The settings it was made with. */
    public Settings settings() {
        return settings;
    }

    /** Whether this resolver validates its answers with DNSSEC (it has trust anchors). */
    public boolean validates() {
        return settings.trustAnchors() != null;
    }

    public Stats stats() {
        int size;
        synchronized (cache) {
            size = cache.size();
        }
        return new Stats(queries.get(), cacheHits.get(), hostsHits.get(), timeouts.get(), failures.get(), size);
    }

    /** {@code bogus}: the last failure was a DNSSEC validation failure. */
    private CompletableFuture<Response> attempt(Message q, int i, String lastFailure, boolean bogus) {
        if (i >= settings.attempts() || resolvers.isEmpty()) {
            failures.incrementAndGet();
            String why = resolvers.isEmpty() ? "no DNS resolver is configured" : lastFailure;
            return CompletableFuture.completedFuture(new Response(new Answer(Rcode.SERVFAIL, List.of(), Source.DNS, why, false,
                    bogus), 0));
        }
        org.xbill.DNS.Resolver r = resolvers.get(i % resolvers.size());
        String server = names.get(i % resolvers.size());
        return r.sendAsync(q, executor).toCompletableFuture().handle((m, e) -> {
            if (e != null) {
                Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
                if (cause instanceof java.net.SocketTimeoutException) {
                    timeouts.incrementAndGet();
                    return attempt(q, i + 1, "no answer from " + server + " within " + settings.tryTimeout().toMillis() + " ms",
                            false);
                }
                return attempt(q, i + 1, server + ": " + cause.getMessage(), false);
            }
            int rcode = m.getRcode();
            String invalid = settings.trustAnchors() == null ? null : validationFailure(m);
            if (invalid != null) {
                return attempt(q, i + 1, "DNSSEC validation failed (answers from " + server + "): " + invalid, true);
            }
            if (rcode == Rcode.SERVFAIL || rcode == Rcode.REFUSED) {
                return attempt(q, i + 1, server + " answered " + Rcode.string(rcode), false);
            }
            List<Record> answers = forQuestion(q.getQuestion(), m.getSection(Section.ANSWER));
            boolean secure = settings.trustAnchors() != null && m.getHeader().getFlag(org.xbill.DNS.Flags.AD);
            return CompletableFuture.completedFuture(new Response(new Answer(rcode, answers, Source.DNS, null, secure, false),
                    ttl(answers, m)));
        }).thenCompose(f -> f);
    }

    /**
     * How long an answer may be kept: its records' smallest TTL; for an empty one (NXDOMAIN, no
     * data) the SOA's TTL, at most the SOA's minimum (RFC 2308 §5), and without a SOA not at all.
     */
    private long ttl(List<Record> answers, Message m) {
        long ttl = 0;
        if (!answers.isEmpty()) {
            ttl = answers.stream().mapToLong(Record::getTTL).min().orElse(0);
        } else {
            for (Record r : m.getSection(Section.AUTHORITY)) {
                if (r instanceof SOARecord soa) {
                    ttl = Math.min(soa.getTTL(), soa.getMinimum());
                }
            }
        }
        return Math.min(ttl, settings.maxTtl().toSeconds());
    }

    private Answer cached(Key key) {
        synchronized (cache) {
            Cached c = cache.get(key);
            if (c == null) {
                return null;
            }
            if (System.nanoTime() - c.expiresAt >= 0) {
                cache.remove(key);
                return null;
            }
            Answer a = c.answer();
            return new Answer(a.rcode(), a.records(), Source.CACHE, null, a.secure(), false);
        }
    }

    private void store(Key key, Response r) {
        if (settings.cacheSize() <= 0 || r.answer().failed() || r.ttl() <= 0) {
            return; // failures are asked again next time
        }
        synchronized (cache) {
            cache.put(key, new Cached(r.answer(), System.nanoTime() + TimeUnit.SECONDS.toNanos(r.ttl())));
        }
    }

    /**
     * The answer records that belong to the question: those at its name, or at the end of the
     * CNAME chain that starts there. Anything else in the answer section is dropped: a signed
     * record set for another name (validated, but not what was asked) must never stand in for
     * the name asked, and neither may an unsigned one.
     */
    static List<Record> forQuestion(Record question, List<Record> answer) {
        java.util.Set<Name> names = new java.util.HashSet<>();
        Name n = question.getName().canonicalize();
        names.add(n);
        for (int hops = 0; hops < 8; hops++) {
            Name next = null;
            for (Record r : answer) {
                if (r instanceof org.xbill.DNS.CNAMERecord c && r.getName().canonicalize().equals(n)) {
                    next = c.getTarget().canonicalize();
                }
            }
            if (next == null || !names.add(next)) {
                break;
            }
            n = next;
        }
        return answer.stream().filter(r -> names.contains(r.getName().canonicalize())).toList();
    }

    /**
     * A resolver that validates the answers of {@code upstream} itself (DNSSEC, from the trust
     * anchors; the upstream only has to pass the signatures on): secure answers carry the AD
     * flag, bogus ones come back as SERVFAIL with the reason in an extended DNS error.
     */
    private static org.xbill.DNS.Resolver validating(SimpleResolver upstream, String trustAnchors) {
        org.xbill.DNS.dnssec.ValidatingResolver v = new org.xbill.DNS.dnssec.ValidatingResolver(upstream);
        try {
            v.loadTrustAnchors(new java.io.ByteArrayInputStream(trustAnchors.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("DNSSEC trust anchors: " + e.getMessage(), e);
        }
        if (v.getTrustAnchors().items().isEmpty()) {
            throw new IllegalArgumentException("DNSSEC trust anchors: no DS or DNSKEY record found");
        }
        return v;
    }

    /** The validator's reason when it found the answer bogus (SERVFAIL with an extended DNS error), else null. */
    private static String validationFailure(Message m) {
        if (m.getRcode() != Rcode.SERVFAIL || m.getOPT() == null) {
            return null;
        }
        for (org.xbill.DNS.EDNSOption o : m.getOPT().getOptions()) {
            // Only the validator's own codes (RFC 8914: 6 DNSSEC bogus .. 12 NSEC missing): the upstream is
            // asked with CD set and never validates, so an error of another kind is its own failure.
            if (o instanceof org.xbill.DNS.ExtendedErrorCodeOption ede && ede.getErrorCode() >= 6 && ede.getErrorCode() <= 12) {
                return ede.getText() == null ? "extended DNS error " + ede.getErrorCode() : ede.getText();
            }
        }
        return null;
    }

    private static List<InetSocketAddress> systemServers() {
        List<InetSocketAddress> servers = ResolverConfig.getCurrentConfig().servers();
        return servers.isEmpty() ? List.of(new InetSocketAddress("127.0.0.1", 53)) : servers;
    }

    /** {@code host:port[,host:port...]}, an IPv6 address in brackets ({@code [::1]:53}); port 53 when none. */
    static List<InetSocketAddress> parseServers(String spec) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String s : spec.split(",")) {
            String t = s.trim();
            if (t.isEmpty()) {
                continue;
            }
            String host = t;
            int port = 53;
            if (t.startsWith("[")) {
                int end = t.indexOf(']');
                host = t.substring(1, end);
                if (t.length() > end + 2 && t.charAt(end + 1) == ':') {
                    port = Integer.parseInt(t.substring(end + 2));
                }
            } else if (t.indexOf(':') == t.lastIndexOf(':') && t.contains(":")) {
                host = t.substring(0, t.indexOf(':'));
                port = Integer.parseInt(t.substring(t.indexOf(':') + 1));
            }
            out.add(new InetSocketAddress(host, port));
        }
        return List.copyOf(out);
    }
}
