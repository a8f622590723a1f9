package io.tlsgate.platform.dns;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Type;

/**
 * Where mail for a domain goes (RFC 5321 §5.1): its MX hosts by preference (equal preferences
 * keep DNS order), or the domain itself when it has no MX; none for a null MX (RFC 7505).
 * Each host's addresses come from AAAA and A records, asked side by side. Queries go through
 * the {@link DnsResolver} (hosts file, cache, resolvers with fail-over). Used by delivery
 * (where mail goes) and by cert-service's diagnostics (which names a certificate must carry).
 * Its methods wait for the answers: call them from worker threads, never from an event loop.
 */
public final class MxResolver {

    /**
     * One host to try, with its MX preference and addresses; {@code secure}: DNSSEC proved its
     * address records (a validating resolver's answers only); {@code failure}: why one of its
     * address lookups got no usable answer (null when both did), {@code bogus} when DNSSEC
     * found it forged or broken.
     */
    public record Host(String name, int preference, List<InetAddress> addresses, boolean secure, String failure,
            boolean bogus) {

        public Host(String name, int preference, List<InetAddress> addresses) {
            this(name, preference, addresses, false, null, false);
        }
    }

    /**
     * The answer: hosts in order (just the domain when {@code implicit}: no MX), or why there
     * are none; {@code secure}: DNSSEC proved the MX records (or that there are none).
     */
    public record Answer(List<Host> hosts, boolean nullMx, boolean implicit, String error, boolean secure) {

        public Answer(List<Host> hosts, boolean nullMx, boolean implicit, String error) {
            this(hosts, nullMx, implicit, error, false);
        }
    }

    private final DnsResolver dns;

    /** Over the shared resolver of {@code server} ({@code tlsgate.dns.server}; empty: the system's resolvers). */
    public MxResolver(Optional<String> server) {
        this(DnsResolver.shared(server));
    }

    public MxResolver(DnsResolver dns) {
        this.dns = dns;
    }

    /** MX hosts with their addresses. */
    public Answer resolve(String domain) {
        return resolve(domain, true);
    }

    /** MX hosts, with their addresses only when {@code addresses} (diagnostics need only names). */
    public Answer resolve(String domain, boolean addresses) {
        String d = domain.toLowerCase(Locale.ROOT).replaceAll("\\.$", "");
        DnsResolver.Answer mx = dns.query(d, Type.MX).join();
        if (mx.failed()) {
            return new Answer(List.of(), false, false, "DNS lookup of " + d + " failed: " + mx.failure());
        }
        if (mx.nxdomain()) {
            return new Answer(List.of(), false, false, "domain " + d + " does not exist");
        }
        if (!mx.ok()) {
            return new Answer(List.of(), false, false, "DNS lookup of " + d + " failed: " + Rcode.string(mx.rcode()));
        }
        List<MXRecord> records = new ArrayList<>();
        for (Record r : mx.records()) {
            if (r instanceof MXRecord m) {
                records.add(m);
            }
        }
        List<String> names = new ArrayList<>();
        List<Integer> preferences = new ArrayList<>();
        boolean implicit = records.isEmpty();
        if (implicit) {
            names.add(d);
            preferences.add(0);
        } else {
            if (records.size() == 1 && records.get(0).getTarget().toString().equals(".")) {
                return new Answer(List.of(), true, false, "null MX: " + d + " accepts no mail");
            }
            records.sort(Comparator.comparingInt(MXRecord::getPriority));
            for (MXRecord r : records) {
                names.add(r.getTarget().toString(true).toLowerCase(Locale.ROOT));
                preferences.add(r.getPriority());
            }
        }
        List<CompletableFuture<Host>> lookups = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            String n = names.get(i);
            int preference = preferences.get(i);
            lookups.add(addresses ? hostAsync(n, preference) : CompletableFuture.completedFuture(new Host(n, preference, List.of())));
        }
        List<Host> hosts = lookups.stream().map(CompletableFuture::join).toList();
        return new Answer(hosts, false, implicit, null, mx.secure());
    }

    /** A host's AAAA and A addresses (empty when it has none or the lookup failed). */
    public List<InetAddress> addresses(String host) {
        return hostAsync(host, 0).join().addresses();
    }

    /** A host's addresses, secure when DNSSEC proved both its AAAA and A answers. */
    private CompletableFuture<Host> hostAsync(String host, int preference) {
        CompletableFuture<DnsResolver.Answer> aaaa = dns.query(host, Type.AAAA);
        CompletableFuture<DnsResolver.Answer> a = dns.query(host, Type.A);
        return aaaa.thenCombine(a, (six, four) -> {
            List<InetAddress> out = new ArrayList<>();
            for (DnsResolver.Answer answer : List.of(six, four)) {
                for (Record r : answer.records()) {
                    if (r instanceof ARecord ar) {
                        out.add(ar.getAddress());
                    } else if (r instanceof AAAARecord ar) {
                        out.add(ar.getAddress());
                    }
                }
            }
            String failure = six.failed() ? "AAAA of " + host + ": " + six.failure()
                    : four.failed() ? "A of " + host + ": " + four.failure() : null;
            return new Host(host, preference, List.copyOf(out), six.secure() && four.secure(), failure,
                    six.bogus() || four.bogus());
        });
    }
}
