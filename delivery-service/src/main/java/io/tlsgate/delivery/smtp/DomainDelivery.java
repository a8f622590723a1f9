package io.tlsgate.delivery.smtp;

import io.tlsgate.core.destination.IpPreference;
import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.dns.MxResolver;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.LongSupplier;
import javax.net.ssl.KeyManagerFactory;

/**
 * Delivers one message to one domain: tries its next hops (an SMTP route's hosts, then or
 * instead the MX hosts in preference order), each address of each host, and moves on to the
 * next after a connection or TLS failure (product.md §2: "a TLS failure on one host moves on
 * to the next host of equal or lower preference before the attempt counts as failed"). Stops
 * at the first host that takes the message or answers for its recipients.
 */
public final class DomainDelivery {

    /** One host to try: an MX host or a route's host, with its addresses in the order to try. */
    public record Hop(String name, List<InetAddress> addresses, int port, boolean route) {}

    /**
     * Where a domain's mail goes: the hops in order, the MX names (for the verify modes), or
     * why there is nowhere to go ({@code permanent}: null MX or no such domain).
     */
    public record Plan(List<Hop> hops, List<String> mxNames, String error, boolean permanent) {}

    /** How to protect the connection. */
    public record Tls(OutboundTlsMode mode, List<X509Certificate> anchors, KeyManagerFactory clientKey) {}

    /** One connection: its DCID and address, and its result, or the connection error. */
    public record Tried(long dcid, String ip, String host, int port, SmtpDeliveryAttempt.Result result, String error) {}

    /** Every connection made, in order, and the last SMTP session's result (null when none could be held). */
    public record Outcome(List<Tried> attempts, SmtpDeliveryAttempt.Result last, String error) {

        public boolean delivered() {
            return last != null && last.delivered();
        }
    }

    private final io.vertx.core.Vertx vertx;
    private final MxResolver mx;
    private final int port;
    private final LongSupplier dcids;

    public DomainDelivery(io.vertx.core.Vertx vertx, MxResolver mx, int port, LongSupplier dcids) {
        this.vertx = vertx;
        this.mx = mx;
        this.port = port;
        this.dcids = dcids;
    }

    /** The hops for a domain: {@code routeHops} ("host" or "[ip]", port 0 = default) then, when {@code useDns}, the MX hosts. */
    public Plan plan(String domain, List<String> routeHosts, List<Integer> routePorts, boolean useDns, IpPreference pref) {
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
        MxResolver.Answer answer = mx.resolve(domain);
        for (MxResolver.Host h : answer.hosts()) {
            hops.add(new Hop(h.name(), order(h.addresses(), pref), port, false));
        }
        boolean permanent = hops.isEmpty() && (answer.nullMx() || (answer.error() != null && answer.error().contains("does not exist")));
        return new Plan(hops, answer.hosts().stream().map(MxResolver.Host::name).toList(), answer.error(), permanent);
    }

    /** Delivers along the plan's hops until one takes the message (or answers for its recipients). */
    public Outcome deliver(String domain, Plan plan, Tls tls, String heloName, SmtpDeliveryAttempt.Message message) {
        if (plan.hops().isEmpty()) {
            return new Outcome(List.of(), null, plan.error());
        }
        List<Tried> attempts = new ArrayList<>();
        SmtpDeliveryAttempt.Result last = null;
        String error = null;
        for (Hop h : plan.hops()) {
            if (h.addresses().isEmpty()) {
                error = "no address for " + h.name();
            }
            for (InetAddress a : h.addresses()) {
                String ip = a.getHostAddress();
                String routeHost = h.route() && !h.name().startsWith("[") ? h.name() : null;
                SmtpDeliveryAttempt.Target t = new SmtpDeliveryAttempt.Target(ip, h.port(), h.name(), domain,
                        plan.mxNames(), routeHost, tls.mode(), tls.anchors(), heloName, tls.clientKey());
                long dcid = dcids.getAsLong();
                try {
                    SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt(vertx, dcid).run(t, message);
                    attempts.add(new Tried(dcid, ip, h.name(), h.port(), r, null));
                    last = r;
                    if (r.action() != Action.TEMPFAIL) {
                        return new Outcome(List.copyOf(attempts), r, null);
                    }
                } catch (IOException e) {
                    error = "Connection Error: DCID " + dcid + " domain: " + domain + " IP: " + ip + " port: " + h.port()
                            + " details: " + e.getMessage();
                    attempts.add(new Tried(dcid, ip, h.name(), h.port(), null, error));
                }
            }
        }
        return new Outcome(List.copyOf(attempts), last, error == null ? "every host failed" : error);
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
