package io.tlsgate.listener.upstream;

import io.grpc.ManagedChannel;
import io.quarkus.runtime.ShutdownEvent;
import io.tlsgate.listener.ListenerConfig;
import io.tlsgate.platform.grpc.InternalChannels;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.platform.grpc.PolicySnapshots;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * listener-service's view of policy-service, asynchronous so that no event loop ever waits:
 * the listeners to serve, the sender group and mail flow policy of a connecting client
 * (ResolveInbound) and whether the RAT accepts a domain. Answers are cached per policy version
 * ({@link PolicySnapshots}), so a policy change applies to the next connection. No answer
 * means no guess: the caller answers 421/451.
 */
@ApplicationScoped
public class PolicyClient {

    private final ManagedChannel channel;
    private final ListenerConfig config;
    private final PolicySnapshots snapshots;
    private final PolicySnapshots.Table<InboundPolicy> inbound;
    private final PolicySnapshots.Table<RecipientAccess> rat;

    PolicyClient(ListenerConfig config, InternalChannels channels) {
        this.config = config;
        this.channel = channels.open(config.policyService(), ServiceIdentity.POLICY);
        this.snapshots = new PolicySnapshots((versions, ended) -> PolicyServiceGrpc.newStub(channel).watchChanges(
                WatchChangesRequest.getDefaultInstance(), PolicySnapshots.observer(PolicyChange::getVersion, versions, ended)));
        this.inbound = snapshots.table(InboundPolicy::getVersion);
        this.rat = snapshots.table(RecipientAccess::getVersion);
    }

    /** Starts following policy changes; {@code changed} runs (on a gRPC thread) with each new version. */
    public void watch(LongConsumer changed) {
        snapshots.start(changed);
    }

    void stop(@Observes ShutdownEvent ignored) {
        snapshots.stop();
        channel.shutdownNow();
    }

    /** Every listener to serve (blocking; not for event loops). */
    public ListenerList listeners() {
        return PolicyServiceGrpc.newBlockingStub(channel).withDeadlineAfter(config.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .listListeners(ListListenersRequest.getDefaultInstance());
    }

    /** The sender group and mail flow policy of a client; completes on a gRPC thread. */
    public CompletableFuture<InboundPolicy> inbound(String listener, String ip, String verifiedHost) {
        ResolveInboundRequest req = ResolveInboundRequest.newBuilder().setListener(listener).setClientIp(ip)
                .setVerifiedRdnsHost(verifiedHost == null ? "" : verifiedHost).build();
        return inbound.getAsync(listener + "|" + ip + "|" + verifiedHost, o -> {
            DeliveryClient.awake(channel);
            stub().resolveInbound(req, o);
        });
    }

    /** Whether the RAT accepts mail for {@code domain}; completes on a gRPC thread. */
    public CompletableFuture<RecipientAccess> recipientAccess(String domain) {
        IsAcceptedRecipientRequest req = IsAcceptedRecipientRequest.newBuilder().setDomain(domain).build();
        return rat.getAsync(domain, o -> {
            DeliveryClient.awake(channel);
            stub().isAcceptedRecipient(req, o);
        });
    }

    /**
     * Lookups wait (up to the timeout) for a connection instead of failing at once while gRPC
     * is between reconnect attempts: policy-service coming back must not cost clients a 421.
     */
    private PolicyServiceGrpc.PolicyServiceStub stub() {
        return PolicyServiceGrpc.newStub(channel).withWaitForReady()
                .withDeadlineAfter(config.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }
}
