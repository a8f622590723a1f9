package io.tlsgate.delivery.upstream;

import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.platform.grpc.InternalChannels;
import io.tlsgate.proto.policy.v1.GetOutboundSettingsRequest;
import io.tlsgate.proto.policy.v1.OutboundPolicy;
import io.tlsgate.proto.policy.v1.OutboundSettings;
import io.tlsgate.proto.policy.v1.PolicyChange;
import io.tlsgate.proto.policy.v1.PolicyServiceGrpc;
import io.tlsgate.proto.policy.v1.ResolveOutboundRequest;
import io.tlsgate.proto.policy.v1.ResolveRouteRequest;
import io.tlsgate.proto.policy.v1.Route;
import io.tlsgate.proto.policy.v1.WatchChangesRequest;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * delivery-service's view of policy-service: outbound policy and route per domain, and the
 * global outbound settings with the bounce profiles, over gRPC. Answers are cached while a
 * {@code WatchChanges} stream is open and dropped as soon as it reports a newer version (or
 * breaks: then nothing is cached until it is back), so a policy change applies to the next
 * delivery. No answer means no delivery: callers defer rather than guess a policy.
 */
@ApplicationScoped
public class PolicyClient {

    private static final Logger LOG = Logger.getLogger(PolicyClient.class);
    private static final int MAX_CACHED = 100_000;

    private final ManagedChannel channel;
    private final DeliveryConfig config;
    private final Map<String, OutboundPolicy> outbound = new ConcurrentHashMap<>();
    private final Map<String, Route> routes = new ConcurrentHashMap<>();
    private volatile OutboundSettings settings;
    /** The newest version the watch stream reported; -1 while it is not connected (no caching). */
    private volatile long version = -1;
    private ScheduledExecutorService retry;
    private volatile boolean running;

    PolicyClient(DeliveryConfig config, InternalChannels channels) {
        this.config = config;
        this.channel = channels.open(config.policyService());
    }

    void start(@Observes StartupEvent ignored) {
        running = true;
        retry = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "policy-watch");
            t.setDaemon(true);
            return t;
        });
        watch();
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        if (retry != null) {
            retry.shutdownNow();
        }
        channel.shutdownNow();
    }

    /** The effective outbound policy for a recipient domain. */
    public OutboundPolicy outbound(String domain) {
        return cached(outbound, domain, () -> stub().resolveOutbound(ResolveOutboundRequest.newBuilder().setDomain(domain).build()),
                OutboundPolicy::getVersion);
    }

    /**
     * The effective outbound policy for a connection to {@code nextHopIp} for a recipient
     * domain: the domain's own entries first, then IP/CIDR entries for the address, then
     * {@code default}.
     */
    public OutboundPolicy outbound(String domain, String nextHopIp) {
        return cached(outbound, domain + " " + nextHopIp, () -> stub().resolveOutbound(ResolveOutboundRequest.newBuilder()
                .setDomain(domain).setNextHopIp(nextHopIp).build()), OutboundPolicy::getVersion);
    }

    /** The SMTP route for a recipient domain (no hops and use_dns when none applies). */
    public Route route(String domain) {
        return cached(routes, domain, () -> stub().resolveRoute(ResolveRouteRequest.newBuilder().setDomain(domain).build()),
                Route::getVersion);
    }

    /** Global outbound settings and the bounce profiles. */
    public OutboundSettings settings() {
        OutboundSettings s = settings;
        long v = version;
        if (s != null && v >= 0 && s.getVersion() >= v) {
            return s;
        }
        s = stub().getOutboundSettings(GetOutboundSettingsRequest.getDefaultInstance());
        if (version >= 0 && s.getVersion() >= version) {
            settings = s;
        }
        return s;
    }

    /** The version the cache follows; -1 while the watch stream is down. */
    public long version() {
        return version;
    }

    private <T> T cached(Map<String, T> cache, String key, Supplier<T> fetch, java.util.function.ToLongFunction<T> versionOf) {
        long v = version;
        T hit = v >= 0 ? cache.get(key) : null;
        if (hit != null && versionOf.applyAsLong(hit) >= v) {
            return hit;
        }
        T fresh = fetch.get();
        // Cached only when it is at least as new as what the watch reported, so an answer
        // fetched before a change can never outlive the change's invalidation.
        if (version >= 0 && versionOf.applyAsLong(fresh) >= version) {
            if (cache.size() >= MAX_CACHED) {
                cache.clear();
            }
            cache.put(key, fresh);
        }
        return fresh;
    }

    private PolicyServiceGrpc.PolicyServiceBlockingStub stub() {
        return PolicyServiceGrpc.newBlockingStub(channel).withDeadlineAfter(config.upstreamTimeout().toMillis(),
                TimeUnit.MILLISECONDS);
    }

    private void watch() {
        if (!running) {
            return;
        }
        PolicyServiceGrpc.newStub(channel).watchChanges(WatchChangesRequest.getDefaultInstance(), new StreamObserver<>() {
            @Override
            public void onNext(PolicyChange change) {
                if (change.getVersion() != version) {
                    outbound.clear();
                    routes.clear();
                    settings = null;
                    version = change.getVersion();
                    LOG.debugf("policy version %d: caches dropped", change.getVersion());
                }
            }

            @Override
            public void onError(Throwable t) {
                broken("failed: " + t.getMessage());
            }

            @Override
            public void onCompleted() {
                broken("ended");
            }
        });
    }

    private void broken(String why) {
        version = -1;
        outbound.clear();
        routes.clear();
        settings = null;
        if (running) {
            LOG.debugf("policy-service change stream %s; caching stops until it is back", why);
            retry.schedule(this::watch, 2, TimeUnit.SECONDS);
        }
    }
}
