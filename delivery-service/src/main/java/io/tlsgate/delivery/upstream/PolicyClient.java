package io.tlsgate.delivery.upstream;

import io.grpc.ManagedChannel;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.platform.grpc.InternalChannels;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.platform.grpc.PolicySnapshots;
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
import java.util.concurrent.TimeUnit;

/**
 * delivery-service's view of policy-service: outbound policy and route per domain, and the
 * global outbound settings with the bounce profiles, over gRPC. Answers are cached per policy
 * version ({@link PolicySnapshots}), so a policy change applies to the next delivery. No
 * answer means no delivery: callers defer rather than guess a policy.
 */
@ApplicationScoped
public class PolicyClient {

    private final ManagedChannel channel;
    private final DeliveryConfig config;
    private final PolicySnapshots snapshots;
    private final PolicySnapshots.Table<OutboundPolicy> outbound;
    private final PolicySnapshots.Table<Route> routes;
    private final PolicySnapshots.Table<OutboundSettings> settings;

    PolicyClient(DeliveryConfig config, InternalChannels channels) {
        this.config = config;
        this.channel = channels.open(config.policyService(), ServiceIdentity.POLICY);
        this.snapshots = new PolicySnapshots((versions, ended) -> PolicyServiceGrpc.newStub(channel).watchChanges(
                WatchChangesRequest.getDefaultInstance(), PolicySnapshots.observer(PolicyChange::getVersion, versions, ended)));
        this.outbound = snapshots.table(OutboundPolicy::getVersion);
        this.routes = snapshots.table(Route::getVersion);
        this.settings = snapshots.table(OutboundSettings::getVersion);
    }

    void start(@Observes StartupEvent ignored) {
        snapshots.start(version -> { });
    }

    void stop(@Observes ShutdownEvent ignored) {
        snapshots.stop();
        channel.shutdownNow();
    }

    /** The effective outbound policy for a recipient domain. */
    public OutboundPolicy outbound(String domain) {
        return outbound.get(domain, () -> stub().resolveOutbound(ResolveOutboundRequest.newBuilder().setDomain(domain).build()));
    }

    /**
     * The effective outbound policy for a connection to {@code nextHopIp} for a recipient
     * domain: the domain's own entries first, then IP/CIDR entries for the address, then
     * {@code default}.
     */
    public OutboundPolicy outbound(String domain, String nextHopIp) {
        return outbound.get(domain + " " + nextHopIp, () -> stub().resolveOutbound(ResolveOutboundRequest.newBuilder()
                .setDomain(domain).setNextHopIp(nextHopIp).build()));
    }

    /** The SMTP route for a recipient domain (no hops and use_dns when none applies). */
    public Route route(String domain) {
        return routes.get(domain, () -> stub().resolveRoute(ResolveRouteRequest.newBuilder().setDomain(domain).build()));
    }

    /** Global outbound settings and the bounce profiles. */
    public OutboundSettings settings() {
        return settings.get("", () -> stub().getOutboundSettings(GetOutboundSettingsRequest.getDefaultInstance()));
    }

    /** The version the cache follows; -1 while the watch stream is down. */
    public long version() {
        return snapshots.version();
    }

    private PolicyServiceGrpc.PolicyServiceBlockingStub stub() {
        return PolicyServiceGrpc.newBlockingStub(channel).withDeadlineAfter(config.upstreamTimeout().toMillis(),
                TimeUnit.MILLISECONDS);
    }
}
