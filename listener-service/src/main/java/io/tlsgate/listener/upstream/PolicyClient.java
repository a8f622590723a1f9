package io.tlsgate.listener.upstream;

import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.quarkus.runtime.ShutdownEvent;
import io.tlsgate.listener.ListenerConfig;
import io.tlsgate.platform.grpc.InternalChannels;
import io.tlsgate.proto.policy.v1.InboundPolicy;
import io.tlsgate.proto.policy.v1.IsAcceptedRecipientRequest;
import io.tlsgate.proto.policy.v1.ListListenersRequest;
import io.tlsgate.proto.policy.v1.ListenerList;
import io.tlsgate.proto.policy.v1.PolicyChange;
import io.tlsgate.proto.policy.v1.PolicyServiceGrpc;
import io.tlsgate.proto.policy.v1.RecipientAccess;
import io.tlsgate.proto.policy.v1.ResolveInboundRequest;
import io.tlsgate.proto.policy.v1.WatchChangesRequest;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.ToLongFunction;
import org.jboss.logging.Logger;

/**
 * listener-service's view of policy-service, asynchronous so that no event loop ever waits:
 * the listeners to serve, the sender group and mail flow policy of a connecting client
 * (ResolveInbound) and whether the RAT accepts a domain. Answers are cached while a
 * {@code WatchChanges} stream is open and dropped when it reports a newer version or breaks
 * (then nothing is cached until it is back), so a policy change applies to the next
 * connection. No answer means no guess: the caller answers 421/451.
 */
@ApplicationScoped
public class PolicyClient {

    private static final Logger LOG = Logger.getLogger(PolicyClient.class);
    private static final int MAX_CACHED = 100_000;

    private final ManagedChannel channel;
    private final ListenerConfig config;
    private final Map<String, InboundPolicy> inbound = new ConcurrentHashMap<>();
    private final Map<String, RecipientAccess> rat = new ConcurrentHashMap<>();
    /** The newest version the watch stream reported; -1 while it is not connected (no caching). */
    private volatile long version = -1;
    private final ScheduledExecutorService retry;
    private volatile boolean running;
    private volatile LongConsumer onChange = v -> { };

    PolicyClient(ListenerConfig config, InternalChannels channels) {
        this.config = config;
        this.channel = channels.open(config.policyService());
        this.retry = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "policy-watch");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts following policy changes; {@code changed} runs (on a gRPC thread) with each new version. */
    public void watch(LongConsumer changed) {
        this.onChange = changed;
        running = true;
        openWatch();
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        retry.shutdownNow();
        channel.shutdownNow();
    }

    /** Every listener to serve (blocking; not for event loops). */
    public ListenerList listeners() {
        return PolicyServiceGrpc.newBlockingStub(channel).withDeadlineAfter(config.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .listListeners(ListListenersRequest.getDefaultInstance());
    }

    /** The sender group and mail flow policy of a client; completes on a gRPC thread. */
    public CompletableFuture<InboundPolicy> inbound(String listener, String ip, String verifiedHost) {
        String key = listener + "|" + ip + "|" + verifiedHost;
        ResolveInboundRequest req = ResolveInboundRequest.newBuilder().setListener(listener).setClientIp(ip)
                .setVerifiedRdnsHost(verifiedHost == null ? "" : verifiedHost).build();
        return cached(inbound, key, o -> stub().resolveInbound(req, o), InboundPolicy::getVersion);
    }

    /** Whether the RAT accepts mail for {@code domain}; completes on a gRPC thread. */
    public CompletableFuture<RecipientAccess> recipientAccess(String domain) {
        IsAcceptedRecipientRequest req = IsAcceptedRecipientRequest.newBuilder().setDomain(domain).build();
        return cached(rat, domain, o -> stub().isAcceptedRecipient(req, o), RecipientAccess::getVersion);
    }

    private <T> CompletableFuture<T> cached(Map<String, T> cache, String key, Consumer<StreamObserver<T>> call,
            ToLongFunction<T> versionOf) {
        long v = version;
        T hit = v >= 0 ? cache.get(key) : null;
        if (hit != null && versionOf.applyAsLong(hit) >= v) {
            return CompletableFuture.completedFuture(hit);
        }
        CompletableFuture<T> f = new CompletableFuture<>();
        DeliveryClient.awake(channel);
        call.accept(new StreamObserver<>() {
            @Override
            public void onNext(T fresh) {
                // Cached only when at least as new as what the watch reported, so an answer
                // fetched before a change never outlives the change's invalidation.
                if (version >= 0 && versionOf.applyAsLong(fresh) >= version) {
                    if (cache.size() >= MAX_CACHED) {
                        cache.clear();
                    }
                    cache.put(key, fresh);
                }
                f.complete(fresh);
            }

            @Override
            public void onError(Throwable t) {
                f.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                f.completeExceptionally(new IllegalStateException("no answer"));
            }
        });
        return f;
    }

    /**
     * Lookups wait (up to the timeout) for a connection instead of failing at once while gRPC
     * is between reconnect attempts: policy-service coming back must not cost clients a 421.
     */
    private PolicyServiceGrpc.PolicyServiceStub stub() {
        return PolicyServiceGrpc.newStub(channel).withWaitForReady()
                .withDeadlineAfter(config.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    private void openWatch() {
        if (!running) {
            return;
        }
        PolicyServiceGrpc.newStub(channel).watchChanges(WatchChangesRequest.getDefaultInstance(), new StreamObserver<>() {
            @Override
            public void onNext(PolicyChange change) {
                if (change.getVersion() != version) {
                    inbound.clear();
                    rat.clear();
                    version = change.getVersion();
                    LOG.debugf("policy version %d: caches dropped", change.getVersion());
                    onChange.accept(change.getVersion());
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
        inbound.clear();
        rat.clear();
        if (running) {
            LOG.debugf("policy-service change stream %s; caching stops until it is back", why);
            retry.schedule(this::openWatch, 2, TimeUnit.SECONDS);
        }
    }
}
