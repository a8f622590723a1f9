package io.tlsgate.platform.dns;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.Type;

/**
 * Forward-confirmed reverse DNS, asynchronously (no thread waits): the PTR name of a client
 * address, and whether that name resolves back to the address ("verified yes"). An unverified
 * name is chosen by whoever owns the address block, so policy must never trust it. Queries go
 * through the {@link DnsResolver} (the hosts file first: 127.0.0.1 is {@code localhost} at once).
 */
public final class ReverseDns {

    /** The PTR name (lower case, no trailing dot; null when none) and whether it is forward-confirmed. */
    public record Result(String host, boolean verified) {
        public static final Result UNKNOWN = new Result(null, false);
    }

    private final DnsResolver dns;
    private final Duration timeout;

    /** Over the shared resolver of {@code server}; {@code timeout}: the whole lookup's budget. */
    public ReverseDns(Optional<String> server, Duration timeout) {
        this(DnsResolver.shared(server), timeout);
    }

    public ReverseDns(DnsResolver dns, Duration timeout) {
        this.dns = dns;
        this.timeout = timeout;
    }

    /** Never fails: any error, or no answer within the budget, is {@link Result#UNKNOWN}. */
    public CompletableFuture<Result> lookup(InetAddress client) {
        Name reverse = ReverseMap.fromAddress(client);
        return dns.query(reverse, Type.PTR).thenCompose(ptr -> {
            Name target = null;
            for (Record r : ptr.records()) {
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
            return dns.query(target, type).thenApply(fwd -> {
                for (Record r : fwd.records()) {
                    InetAddress a = r instanceof ARecord ar ? ar.getAddress() : r instanceof AAAARecord aa ? aa.getAddress() : null;
                    if (client.equals(a)) {
                        return new Result(host, true);
                    }
                }
                return new Result(host, false);
            });
        }).completeOnTimeout(Result.UNKNOWN, timeout.toMillis(), TimeUnit.MILLISECONDS).exceptionally(e -> Result.UNKNOWN);
    }
}
