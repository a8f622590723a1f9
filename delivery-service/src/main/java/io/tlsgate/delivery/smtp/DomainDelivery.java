package io.tlsgate.delivery.smtp;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.IpPreference;
import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.platform.dns.MxResolver;
import io.tlsgate.platform.tls.PeerTrust;
import io.tlsgate.platform.tls.TlsEngine;
import io.vertx.core.Future;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.Comparator;
import java.util.List;
import java.util.function.LongSupplier;
import javax.net.ssl.KeyManagerFactory;

/**
 * Delivers messages to one domain: tries its next hops (an SMTP route's hosts, then or
 * instead the MX hosts in preference order), each address of each host, and moves on to the
 * next after a connection or TLS failure (a TLS failure on one host moves on to the next host
 * of equal or lower preference before the attempt counts as failed: docs/delivery.md). Stops
 * when every message got its transaction.
 *
 * <p>Bounded against hostile DNS and tarpitting hosts ({@link Limits}): at most so many MX
 * hosts and connections per domain, one deadline for the whole domain, and MX answers that
 * point at loopback, unspecified or this machine's own addresses are not used (a configured
 * SMTP route may name any address).
 */
public final class DomainDelivery {

    /**
     * One host to try: an MX host or a route's host, with its addresses in the order to try;
     * {@code secure}: DNSSEC proved the domain's MX records and this host's addresses (a
     * validating resolver's plan only: then DANE may apply to it); {@code dnsFailure}: the
     * domain's MX records were secure but an address lookup of this host failed (bogus, or no
     * answer), so whether DANE applies to it cannot be known; {@code bogus}: it was bogus.
     */
    public record Hop(String name, List<InetAddress> addresses, int port, boolean route, boolean secure, String dnsFailure,
            boolean bogus) {

        public Hop(String name, List<InetAddress> addresses, int port, boolean route) {
            this(name, addresses, port, route, false, null, false);
        }
    }

    /**
     * Where a domain's mail goes: the hops in order, the MX names (for the verify modes), or
     * why there is nowhere to go ({@code permanent}: null MX or no such domain).
     */
    public record Plan(List<Hop> hops, List<String> mxNames, String error, boolean permanent, List<String> refusedMx) {

        public Plan(List<Hop> hops, List<String> mxNames, String error, boolean permanent) {
            this(hops, mxNames, error, permanent, List.of());
        }
    }

    /**
     * How to protect one connection: the mode, the policy entry that supplied it, and the
     * trust anchors and client key of the verify and TLS modes; {@code mxNameOnly}: the
     * certificate must name the MX host connected to (MTA-STS, RFC 8461 §4.1), whatever the
     * mode's own identity rules.
     */
    public record Tls(OutboundTlsMode mode, String source, PeerTrust trust, KeyManagerFactory clientKey, boolean mxNameOnly,
            DaneRule dane, Refusal refusal, boolean requireTls) {

        public Tls(OutboundTlsMode mode, String source, PeerTrust trust, KeyManagerFactory clientKey, boolean mxNameOnly,
                DaneRule dane) {
            this(mode, source, trust, clientKey, mxNameOnly, dane, null, false);
        }

        public Tls(OutboundTlsMode mode, String source, PeerTrust trust, KeyManagerFactory clientKey, boolean mxNameOnly) {
            this(mode, source, trust, clientKey, mxNameOnly, null);
        }

        /** The same rules, refused ({@link Refusal}). */
        public Tls refused(OutboundTlsMode asMode, Refusal why) {
            return new Tls(asMode, source, trust, clientKey, mxNameOnly, dane, why, requireTls);
        }

        /** The same rules for messages sent with REQUIRETLS (RFC 8689): the parameter goes on, the next hop must offer it. */
        public Tls withRequireTls() {
            return new Tls(mode, source, trust, clientKey, mxNameOnly, dane, refusal, true);
        }

        public Tls(OutboundTlsMode mode, String source, PeerTrust trust, KeyManagerFactory clientKey) {
            this(mode, source, trust, clientKey, false);
        }

        public Tls(OutboundTlsMode mode, PeerTrust trust, KeyManagerFactory clientKey) {
            this(mode, null, trust, clientKey);
        }
    }

    /**
     * Why a host must not be used at all (no connection is made): its RFC 8460 type and the
     * reason for the mail log and the event; with {@code permanentReply} (a 5xx) the messages
     * are answered with it, as if the host had refused them (REQUIRETLS that cannot be
     * honoured), otherwise the next host is tried.
     */
    public record Refusal(TlsResultType type, String reason, String permanentReply) {}

    /** Each connection's TLS rules, by the hop and the address connected to. */
    @FunctionalInterface
    public interface TlsRules {
        Tls of(Hop hop, InetAddress address);
    }

    /**
     * One connection: its DCID, address and TLS rules, the messages offered on it, and its
     * result, or the connection error.
     */
    public record Tried(long dcid, String ip, String host, int port, Tls tls, List<Long> mids,
            SmtpDeliveryAttempt.Result result, String error) {}

    /**
     * Every connection made, in order, and the last SMTP session's result (null when none
     * could be held). For several messages, {@link #of} gives one message's share.
     */
    public record Outcome(List<Tried> attempts, SmtpDeliveryAttempt.Result last, String error, boolean limited) {

        public Outcome(List<Tried> attempts, SmtpDeliveryAttempt.Result last, String error) {
            this(attempts, last, error, false);
        }

        public boolean delivered() {
            return last != null && last.delivered();
        }

        /**
         * Message {@code mid}'s outcome: the connections it was offered on, and the last one's
         * result with only its own transaction (none when it got none there).
         */
        public Outcome of(long mid) {
            List<Tried> mine = attempts.stream().filter(t -> t.mids().contains(mid)).toList();
            SmtpDeliveryAttempt.Result r = null;
            String err = error;
            for (Tried t : mine) {
                if (t.result() != null) {
                    SmtpDeliveryAttempt.Result x = t.result();
                    r = x.with(x.transaction(mid).stream().toList());
                    if (x.transaction(mid).isEmpty() && x.error() != null) {
                        err = x.error();
                    }
                } else {
                    err = t.error();
                }
            }
            boolean answered = r != null && r.transaction(mid).isPresent();
            return new Outcome(mine, r, answered ? null : err, limited && !answered);
        }
    }

    /**
     * @param mxHosts MX hosts used per domain, by preference
     * @param connections failed connections per domain and delivery before the rest waits for the retry
     * @param deadline the longest one domain's delivery may take, every host together
     * @param mxMayBeLocal whether MX hosts may resolve to loopback, unspecified or own addresses
     * @param timeouts each connection's own timeouts
     * @param idle how long a connection waits for more messages to the same target after its
     *     own (zero: it says QUIT at once)
     * @param engine the TLS implementation of the connections
     */
    public record Limits(int mxHosts, int connections, Duration deadline, boolean mxMayBeLocal,
            SmtpDeliveryAttempt.Timeouts timeouts, Duration idle, TlsEngine engine) {

        public static final Limits DEFAULT = new Limits(5, 10, Duration.ofMinutes(15), false,
                SmtpDeliveryAttempt.Timeouts.RFC_5321, Duration.ofSeconds(2));

        public Limits(int mxHosts, int connections, Duration deadline, boolean mxMayBeLocal,
                SmtpDeliveryAttempt.Timeouts timeouts, Duration idle) {
            this(mxHosts, connections, deadline, mxMayBeLocal, timeouts, idle, TlsEngine.preferred());
        }

        public Limits(int mxHosts, int connections, Duration deadline, boolean mxMayBeLocal,
                SmtpDeliveryAttempt.Timeouts timeouts) {
            this(mxHosts, connections, deadline, mxMayBeLocal, timeouts, Duration.ZERO);
        }
    }

    private final io.vertx.core.Vertx vertx;
    private final MxResolver mx;
    private final int port;
    private final LongSupplier dcids;
    private final Limits limits;
    private final SmtpDeliveryAttempt.Pool pool;
    /** One set of clients for every connection: TLS sessions are resumed across them. */
    private final TlsClients clients;

    public DomainDelivery(io.vertx.core.Vertx vertx, MxResolver mx, int port, LongSupplier dcids) {
        this(vertx, mx, port, dcids, Limits.DEFAULT);
    }

    public DomainDelivery(io.vertx.core.Vertx vertx, MxResolver mx, int port, LongSupplier dcids, Limits limits) {
        this.vertx = vertx;
        this.mx = mx;
        this.port = port;
        this.dcids = dcids;
        this.limits = limits;
        this.pool = new SmtpDeliveryAttempt.Pool(limits.idle(), 8);
        this.clients = new TlsClients(vertx, limits.engine(), limits.timeouts().connect(), limits.timeouts().handshake(), true);
    }

    /** The resolver of the MX hosts and route hosts. */
    public MxResolver mx() {
        return mx;
    }

    /** Connections waiting for more messages now. */
    public int idleConnections() {
        return pool.size();
    }

    /** The hops for a domain: {@code routeHops} ("host" or "[ip]", port 0 = default) then, when {@code useDns}, the MX hosts. */
    public Plan plan(String domain, List<String> routeHosts, List<Integer> routePorts, boolean useDns, IpPreference pref) {
        return plan(domain, routeHosts, routePorts, useDns, pref, mx -> true);
    }

    /**
     * As {@link #plan(String, List, List, boolean, IpPreference)}, with only the MX hosts
     * {@code mxAllowed} admits (an MTA-STS policy in enforce mode), before the MX host limit
     * applies; the others are in {@link Plan#refusedMx}.
     */
    public Plan plan(String domain, List<String> routeHosts, List<Integer> routePorts, boolean useDns, IpPreference pref,
            java.util.function.Predicate<String> mxAllowed) {
        return plan(domain, routeHosts, routePorts, useDns, pref, mxAllowed, mx);
    }

    /**
     * As {@link #plan(String, List, List, boolean, IpPreference, java.util.function.Predicate)},
     * with the MX hosts and their addresses from {@code mxVia} (DANE's validating resolver: the
     * hops then say whether they are {@link Hop#secure}); route hosts always from the usual one.
     */
    public Plan plan(String domain, List<String> routeHosts, List<Integer> routePorts, boolean useDns, IpPreference pref,
            java.util.function.Predicate<String> mxAllowed, MxResolver mxVia) {
        List<Hop> hops = new ArrayList<>();
        for (int i = 0; i < routeHosts.size(); i++) {
            String h = routeHosts.get(i);
            int p = routePorts.get(i) > 0 ? routePorts.get(i) : port;
            List<InetAddress> addresses;
            if (h.startsWith("[") && h.endsWith("]")) {
                try {
                    addresses = List.of(InetAddress.getByName(h.substring(1, h.length() - 1)));
                } catch (UnknownHostException e) {
                    addresses = List.of();
                }
            } else {
                addresses = mx.addresses(h);
            }
            hops.add(new Hop(h, order(addresses, pref), p, true));
        }
        if (!useDns) {
            return new Plan(hops, List.of(), hops.isEmpty() ? "the SMTP route for " + domain + " has no hosts" : null, false);
        }
        MxResolver.Answer answer = mxVia.resolve(domain);
        List<MxResolver.Host> admitted = answer.hosts().stream().filter(h -> mxAllowed.test(h.name())).toList();
        List<String> refused = answer.hosts().stream().map(MxResolver.Host::name).filter(n -> !mxAllowed.test(n)).toList();
        List<MxResolver.Host> hosts = admitted.subList(0, Math.min(admitted.size(), limits.mxHosts()));
        String error = answer.error();
        for (MxResolver.Host h : hosts) {
            List<InetAddress> usable = limits.mxMayBeLocal() ? h.addresses()
                    : h.addresses().stream().filter(a -> !LocalAddresses.isLocal(a)).toList();
            if (usable.size() < h.addresses().size()) {
                // Mail would loop back to this gateway, or go nowhere: never follow DNS there.
                error = "MX host " + h.name() + " points at a local address " + h.addresses().stream()
                        .filter(LocalAddresses::isLocal).map(InetAddress::getHostAddress).toList() + ": not used";
            }
            hops.add(new Hop(h.name(), order(usable, pref), port, false, answer.secure() && h.secure(),
                    answer.secure() ? h.failure() : null, h.bogus()));
        }
        boolean permanent = hops.isEmpty() && (answer.nullMx() || (answer.error() != null && answer.error().contains("does not exist")));
        return new Plan(hops, hosts.stream().map(MxResolver.Host::name).toList(), error, permanent, refused);
    }

    /** One message, the same TLS rules for every address; waits (for tests and tools, never an event loop). */
    public Outcome deliver(String domain, Plan plan, Tls tls, String heloName, SmtpDeliveryAttempt.Message message) {
        return deliver(domain, plan, (h, a) -> tls, heloName, List.of(message), 1);
    }

    /** {@link #start} with every connection admitted, waiting for the outcome (never on an event loop). */
    public Outcome deliver(String domain, Plan plan, TlsRules tlsFor, String heloName,
            List<SmtpDeliveryAttempt.Message> messages, int perConnection) {
        return start(domain, plan, tlsFor, heloName, messages, perConnection, SmtpDeliveryAttempt.Gate.OPEN)
                .toCompletionStage().toCompletableFuture().join();
    }

    /**
     * Delivers {@code messages} (all for this domain) along the plan's hops: up to
     * {@code perConnection} of them on each connection, the next connection to the same
     * address for the rest, and on to the next address when a connection fails (its TLS rules
     * refused the peer, or it broke: what it had answered stays answered). Stops when every
     * message got its transaction, or when {@code gate} admits no new connection (the
     * destination's concurrency limit: {@link Outcome#limited}; the rest wait, nothing counts
     * as failed). {@code tlsFor} gives each connection's TLS rules once its address is known
     * and hop (IP and CIDR destination entries, MTA-STS for MX hosts) and must not block; when it fails no more addresses
     * are tried. Nothing here waits: the sessions run on the event loop and the future
     * completes there.
     */
    public Future<Outcome> start(String domain, Plan plan, TlsRules tlsFor, String heloName,
            List<SmtpDeliveryAttempt.Message> messages, int perConnection, SmtpDeliveryAttempt.Gate gate) {
        if (plan.hops().isEmpty()) {
            return Future.succeededFuture(new Outcome(List.of(), null, plan.error()));
        }
        return new Run(domain, plan, tlsFor, heloName, messages, perConnection, gate).next();
    }

    /** One delivery's progress through the plan: which hop and address, what is left, what was tried. */
    private final class Run {
        private final String domain;
        private final Plan plan;
        private final TlsRules tlsFor;
        private final String heloName;
        private final int perConnection;
        private final SmtpDeliveryAttempt.Gate gate;
        private final List<SmtpDeliveryAttempt.Message> remaining;
        private final List<Tried> attempts = new ArrayList<>();
        private final Instant deadline = Instant.now().plus(limits.deadline());
        private final SmtpDeliveryAttempt.Timeouts timeouts = limits.timeouts().until(deadline);
        private SmtpDeliveryAttempt.Result last;
        private String error;
        private int failed;
        private int hop;
        private int address;
        /** The reply of the last refusal for good (REQUIRETLS), and where it is recorded. */
        private String permanent;
        private int lastRefusal = -1;
        /** A host failed for another reason: the messages wait rather than being returned. */
        private boolean otherFailure;

        Run(String domain, Plan plan, TlsRules tlsFor, String heloName,
                List<SmtpDeliveryAttempt.Message> messages, int perConnection, SmtpDeliveryAttempt.Gate gate) {
            this.domain = domain;
            this.plan = plan;
            this.tlsFor = tlsFor;
            this.heloName = heloName;
            this.perConnection = Math.max(1, perConnection);
            this.gate = gate;
            this.remaining = new ArrayList<>(messages);
            this.error = plan.error();
        }

        /** The next connection, or the outcome when every message is answered or nothing is left to try. */
        Future<Outcome> next() {
            while (!remaining.isEmpty() && hop < plan.hops().size()) {
                Hop h = plan.hops().get(hop);
                if (h.addresses().isEmpty() && error == null) {
                    error = "no address for " + h.name();
                }
                if (address >= h.addresses().size()) {
                    hop++;
                    address = 0;
                    continue;
                }
                if (failed == limits.connections()) {
                    return done("connection limit reached (" + limits.connections() + " per domain): "
                            + (error == null ? "every host tried failed" : error), false);
                }
                if (!Instant.now().isBefore(deadline)) {
                    return done("the delivery deadline for " + domain + " (" + limits.deadline() + ") passed"
                            + (error == null ? "" : ": " + error), false);
                }
                InetAddress a = h.addresses().get(address);
                Tls tls;
                try {
                    tls = tlsFor.of(h, a);
                } catch (RuntimeException e) {
                    return done("no TLS policy for " + DestinationKey.format(a.getAddress()) + ": " + e.getMessage(), false);
                }
                if (tls.refusal() != null) {
                    refused(h, a, tls);
                    continue;
                }
                return connection(h, a, tls);
            }
            if (!remaining.isEmpty() && permanent != null && !otherFailure) {
                returnForGood();
            }
            return done(remaining.isEmpty() ? null : error == null ? "every host failed" : error, false);
        }

        /**
         * Every host refused the remaining messages for good (REQUIRETLS could not be honoured
         * anywhere, RFC 8689 §4.2.1): they are answered with that refusal, on the last refusal's
         * record, so that they are returned to their senders.
         */
        private void returnForGood() {
            Tried t = attempts.get(lastRefusal);
            List<SmtpDeliveryAttempt.Transaction> answered = remaining.stream()
                    .map(m -> new SmtpDeliveryAttempt.Transaction(m.mid(), java.util.Collections.nCopies(m.rcptTo().size(),
                            permanent), null)).toList();
            SmtpDeliveryAttempt.Result r = t.result().with(answered);
            attempts.set(lastRefusal, new Tried(t.dcid(), t.ip(), t.host(), t.port(), t.tls(), t.mids(), r, t.error()));
            last = r;
            remaining.clear();
        }

        /**
         * The rules refuse the host (DANE: its TLSA lookup failed or was bogus, RFC 7672 §2.2;
         * REQUIRETLS that cannot be honoured there): no connection; the refusal is recorded
         * once, as a failed TLS decision with its own DCID (mail log line and outcome event).
         * A temporary refusal moves on to the next host; a permanent one answers the messages
         * with its reply.
         */
        private void refused(Hop h, InetAddress a, Tls tls) {
            String ip = DestinationKey.format(a.getAddress());
            long dcid = dcids.getAsLong();
            Refusal why = tls.refusal();
            String reason = why.reason() + ": host " + h.name() + " not used";
            List<Long> mids = remaining.stream().map(SmtpDeliveryAttempt.Message::mid).toList();
            // TEMPFAIL: nothing was sent (a refusal for good answers the messages later, when no host is left).
            SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt.Result(Action.TEMPFAIL, false, null, null, io.tlsgate.core.tls.Verification.FAILURE, why.type(), reason,
                    tls.mode().requiresTls(), List.of(), null, List.of("DCID " + dcid + " IP " + ip + " TLS verify failed: "
                    + why.type().wire() + ": " + reason), dcid, false);
            attempts.add(new Tried(dcid, ip, h.name(), h.port(), tls, mids, r, null));
            if (why.permanentReply() != null) {
                permanent = why.permanentReply();
                lastRefusal = attempts.size() - 1;
            } else {
                otherFailure = true;
            }
            error = "Connection Error: DCID " + dcid + " domain: " + domain + " IP: " + ip + " port: " + h.port() + " details: "
                    + reason;
            hop++;
            address = 0;
        }

        /** One connection to {@code a} with the next messages; then {@link #next}. */
        private Future<Outcome> connection(Hop h, InetAddress a, Tls tls) {
            String ip = DestinationKey.format(a.getAddress()); // RFC 5952 form in logs, attempts and events
            String routeHost = h.route() && !h.name().startsWith("[") ? h.name() : null;
            SmtpDeliveryAttempt.Target t = new SmtpDeliveryAttempt.Target(ip, h.port(), h.name(), domain, plan.mxNames(),
                    routeHost, tls.mode(), tls.trust(), heloName, tls.clientKey(), tls.mxNameOnly(), tls.dane(), tls.requireTls());
            List<SmtpDeliveryAttempt.Message> batch = List.copyOf(remaining.subList(0, Math.min(perConnection, remaining.size())));
            List<Long> mids = batch.stream().map(SmtpDeliveryAttempt.Message::mid).toList();
            long dcid = dcids.getAsLong();
            return new SmtpDeliveryAttempt(vertx, dcid, timeouts, pool, perConnection, gate, clients).start(t, batch).transform(ar -> {
                if (ar.failed() && ar.cause() instanceof SmtpDeliveryAttempt.LimitReached limit) {
                    return done(limit.getMessage(), true);
                }
                if (ar.failed()) {
                    failed++;
                    otherFailure = true;
                    error = "Connection Error: DCID " + dcid + " domain: " + domain + " IP: " + ip + " port: " + h.port()
                            + " details: " + ar.cause().getMessage();
                    attempts.add(new Tried(dcid, ip, h.name(), h.port(), tls, mids, null, error));
                    address++;
                    return next();
                }
                SmtpDeliveryAttempt.Result r = ar.result();
                if (!r.transactions().isEmpty() && r.transactions().stream().allMatch(x -> x.rcptReplies().stream()
                        .allMatch(MailTransactions.NO_REQUIRETLS::equals))) {
                    // The server does not offer REQUIRETLS: nothing was sent; try the other hosts first (RFC 8689 §4.2.1).
                    attempts.add(new Tried(r.dcid(), ip, h.name(), h.port(), tls, mids, r.with(List.of()), null));
                    permanent = MailTransactions.NO_REQUIRETLS;
                    lastRefusal = attempts.size() - 1;
                    address++;
                    return next();
                }
                attempts.add(new Tried(r.dcid(), ip, h.name(), h.port(), tls, mids, r, null));
                last = r;
                Set<Long> answered = new HashSet<>();
                r.transactions().forEach(x -> answered.add(x.mid()));
                remaining.removeIf(m -> answered.contains(m.mid()));
                if (r.action() == Action.TEMPFAIL || r.error() != null) {
                    failed++;
                    otherFailure = true;
                    if (r.error() != null) {
                        error = "Connection Error: DCID " + dcid + " domain: " + domain + " IP: " + ip + " port: " + h.port()
                                + " details: " + r.error();
                    }
                    address++;
                } else if (answered.isEmpty()) {
                    address++; // nothing got through and nothing says why: never loop on it
                }
                return next();
            });
        }

        private Future<Outcome> done(String why, boolean limited) {
            return Future.succeededFuture(new Outcome(List.copyOf(attempts), last, why, limited));
        }
    }

    private static List<InetAddress> order(List<InetAddress> addresses, IpPreference pref) {
        if (pref == null) {
            return addresses;
        }
        return switch (pref) {
            case IPV4_ONLY -> addresses.stream().filter(a -> !(a instanceof Inet6Address)).toList();
            case IPV6_ONLY -> addresses.stream().filter(a -> a instanceof Inet6Address).toList();
            case IPV4_PREFERRED -> addresses.stream().sorted(Comparator.comparing(a -> a instanceof Inet6Address)).toList();
            case IPV6_PREFERRED -> addresses.stream().sorted(Comparator.comparing(a -> !(a instanceof Inet6Address))).toList();
        };
    }
}
