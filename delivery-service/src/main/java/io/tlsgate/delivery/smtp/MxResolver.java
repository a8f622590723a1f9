package io.tlsgate.delivery.smtp;

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
 * Each host's addresses come from AAAA and A records. Resolver: {@code host:port} given, or
 * the system's.
 */
public final class MxResolver {

    /** One host to try, with its MX preference and addresses. */
    public record Host(String name, int preference, List<InetAddress> addresses) {}

    /** The answer: hosts in order, or why there are none. */
    public record Answer(List<Host> hosts, boolean nullMx, String error) {}

    private final Optional<String> server;

    public MxResolver(Optional<String> server) {
        this.server = server;
    }

    public Answer resolve(String domain) {
        String d = domain.toLowerCase(Locale.ROOT).replaceAll("\\.$", "");
        Lookup mx = lookup(d, Type.MX);
        Record[] rs = mx.run();
        if (mx.getResult() == Lookup.TRY_AGAIN || mx.getResult() == Lookup.UNRECOVERABLE) {
            return new Answer(List.of(), false, "DNS lookup of " + d + " failed: " + mx.getErrorString());
        }
        if (mx.getResult() == Lookup.HOST_NOT_FOUND) {
            return new Answer(List.of(), false, "domain " + d + " does not exist");
        }
        List<Host> hosts = new ArrayList<>();
        if (rs == null || rs.length == 0) {
            hosts.add(new Host(d, 0, addresses(d)));
        } else {
            List<MXRecord> records = new ArrayList<>();
            for (Record r : rs) {
                records.add((MXRecord) r);
            }
            if (records.size() == 1 && records.get(0).getTarget().toString().equals(".")) {
                return new Answer(List.of(), true, "null MX: " + d + " accepts no mail");
            }
            records.sort(Comparator.comparingInt(MXRecord::getPriority));
            for (MXRecord r : records) {
                String name = r.getTarget().toString(true).toLowerCase(Locale.ROOT);
                hosts.add(new Host(name, r.getPriority(), addresses(name)));
            }
        }
        return new Answer(List.copyOf(hosts), false, null);
    }

    private List<InetAddress> addresses(String host) {
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
