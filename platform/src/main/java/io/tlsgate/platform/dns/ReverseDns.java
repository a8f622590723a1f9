package io.tlsgate.platform.dns;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * Forward-confirmed reverse DNS, asynchronously (no thread waits): the PTR name of a client
 * address, and whether that name resolves back to the address ("verified yes"). An unverified
 * name is chosen by whoever owns the address block, so policy must never trust it. Resolver:
 * {@code tlsgate.dns.server} when given, else the system's.
 */
public final class ReverseDns {

    /** The PTR name (lower case, no trailing dot; null when none) and whether it is forward-confirmed. */
    public record Result(String host, boolean verified) {
        public static final Result UNKNOWN = new Result(null, false);
    }

    private final SimpleResolver resolver;
    private final Duration timeout;

    public ReverseDns(Optional<String> server, Duration timeout) {
        this.timeout = timeout;
        try {
            if (server.isPresent()) {
                String[] hp = server.get().split(":");
                resolver = new SimpleResolver(new InetSocketAddress(hp[0], hp.length > 1 ? Integer.parseInt(hp[1]) : 53));
            } else {
                resolver = new SimpleResolver();
            }
            resolver.setTimeout(timeout);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("tlsgate.dns.server: " + e.getMessage(), e);
        }
    }

    /** Never fails: any error or timeout is {@link Result#UNKNOWN}. */
    public CompletableFuture<Result> lookup(InetAddress client) {
        Name reverse = ReverseMap.fromAddress(client);
        return query(reverse, Type.PTR).thenCompose(ptr -> {
            Name target = null;
            for (Record r : ptr.getSection(Section.ANSWER)) {
                if (r instanceof PTRRecord p) {
                    target = p.getTarget();
                    break;
                }
            }
            if (target == null) {
                return CompletableFuture.completedFuture(Result.UNKNOWN);
            }
            String host = target.toString(true).toLowerCase(Locale.ROOT);
            int type = client instanceof Inet4Address ? Type.A : Type.AAAA;
            return query(target, type).handle((fwd, failed) -> {
                if (failed != null) {
                    return new Result(host, false);
                }
                for (Record r : fwd.getSection(Section.ANSWER)) {
                    InetAddress a = r instanceof ARecord ar ? ar.getAddress() : r instanceof AAAARecord aa ? aa.getAddress() : null;
                    if (client.equals(a)) {
                        return new Result(host, true);
                    }
                }
                return new Result(host, false);
            });
        }).toCompletableFuture().completeOnTimeout(Result.UNKNOWN, timeout.toMillis(), TimeUnit.MILLISECONDS)
                .exceptionally(e -> Result.UNKNOWN);
    }

    private CompletableFuture<Message> query(Name name, int type) {
        Message q = Message.newQuery(Record.newRecord(name, type, DClass.IN));
        return resolver.sendAsync(q).toCompletableFuture().thenApply(m -> {
            if (m.getRcode() != Rcode.NOERROR) {
                throw new IllegalStateException(Rcode.string(m.getRcode()));
            }
            return m;
        });
    }
}
