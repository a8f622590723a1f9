package io.tlsgate.platform.dns;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Lookup;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * Where mail for a domain goes (RFC 5321 §5.1): its MX hosts by preference (equal preferences
 * keep DNS order), or the domain itself when it has no MX; none for a null MX (RFC 7505).
 * Each host's addresses come from AAAA and A records. Resolver: {@code tlsgate.dns.server}
 * ({@code host:port}) when given, else the system's. Used by delivery (where mail goes) and by
 * cert-service's diagnostics (which names a certificate must carry).
 */
public final class MxResolver {

    /** One host to try, with its MX preference and addresses. */
    public record Host(String name, int preference, List<InetAddress> addresses) {}

    /** The answer: hosts in order (just the domain when {@code implicit}: no MX), or why there are none. */
    public record Answer(List<Host> hosts, boolean nullMx, boolean implicit, String error) {}

    private final Optional<String> server;

    public MxResolver(Optional<String> server) {
        this.server = server;
    }

    /** MX hosts with their addresses. */
    public Answer resolve(String domain) {
        return resolve(domain, true);
    }

    /** MX hosts, with their addresses only when {@code addresses} (diagnostics need only names). */
    public Answer resolve(String domain, boolean addresses) {
        String d = domain.toLowerCase(Locale.ROOT).replaceAll("\\.$", "");
        Lookup mx = lookup(d, Type.MX);
        Record[] rs = mx.run();
        if (mx.getResult() == Lookup.TRY_AGAIN || mx.getResult() == Lookup.UNRECOVERABLE) {
            return new Answer(List.of(), false, false, "DNS lookup of " + d + " failed: " + mx.getErrorString());
        }
        if (mx.getResult() == Lookup.HOST_NOT_FOUND) {
            return new Answer(List.of(), false, false, "domain " + d + " does not exist");
        }
        List<Host> hosts = new ArrayList<>();
        boolean implicit = rs == null || rs.length == 0;
        if (implicit) {
            hosts.add(new Host(d, 0, addresses ? addresses(d) : List.of()));
        } else {
            List<MXRecord> records = new ArrayList<>();
            for (Record r : rs) {
                records.add((MXRecord) r);
            }
            if (records.size() == 1 && records.get(0).getTarget().toString().equals(".")) {
                return new Answer(List.of(), true, false, "null MX: " + d + " accepts no mail");
            }
            records.sort(Comparator.comparingInt(MXRecord::getPriority));
            for (MXRecord r : records) {
                String name = r.getTarget().toString(true).toLowerCase(Locale.ROOT);
                hosts.add(new Host(name, r.getPriority(), addresses ? addresses(name) : List.of()));
            }
        }
        return new Answer(List.copyOf(hosts), false, implicit, null);
    }

    /** A host's AAAA and A addresses (empty when it has none or the lookup failed). */
    public List<InetAddress> addresses(String host) {
        List<InetAddress> out = new ArrayList<>();
        for (int type : new int[] {Type.AAAA, Type.A}) {
            Record[] rs = lookup(host, type).run();
            if (rs != null) {
                for (Record r : rs) {
                    out.add(r instanceof ARecord a ? a.getAddress() : ((AAAARecord) r).getAddress());
                }
            }
        }
        return out;
    }

    private Lookup lookup(String name, int type) {
        try {
            Lookup l = new Lookup(name + ".", type);
            l.setResolver(resolver());
            l.setCache(null);
            return l;
        } catch (TextParseException e) {
            throw new IllegalArgumentException("'" + name + "' is not a domain name");
        }
    }

    private Resolver resolver() {
        try {
            SimpleResolver r;
            if (server.isPresent()) {
                String[] hp = server.get().split(":");
                r = new SimpleResolver(new InetSocketAddress(hp[0], hp.length > 1 ? Integer.parseInt(hp[1]) : 53));
            } else {
                r = new SimpleResolver();
            }
            r.setTimeout(Duration.ofSeconds(5));
            return r;
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException("tlsgate.dns.server: " + e.getMessage(), e);
        }
    }
}
