package io.tlsgate.policy.grpc;

import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.tlsgate.core.destination.DestinationField;
import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.core.destination.EffectivePolicy;
import io.tlsgate.core.dns.DomainName;
import io.tlsgate.policy.destination.DestinationResolver;
import io.tlsgate.proto.policy.v1.IpPreference;
import io.tlsgate.proto.policy.v1.LimitsApplyPer;
import io.tlsgate.proto.policy.v1.LimitsScope;
import io.tlsgate.proto.policy.v1.OutboundPolicy;
import io.tlsgate.proto.policy.v1.OutboundTlsMode;
import io.tlsgate.proto.policy.v1.PolicyChange;
import io.tlsgate.proto.policy.v1.PolicyService;
import io.tlsgate.proto.policy.v1.RecipientLimit;
import io.tlsgate.proto.policy.v1.ResolveOutboundRequest;
import io.tlsgate.proto.policy.v1.WatchChangesRequest;

/**
 * gRPC edge of policy-service: maps wire types to the domain and back, nothing more.
 * ResolveOutbound answers from the in-memory index on the event loop (no I/O).
 */
@GrpcService
public class PolicyGrpcService implements PolicyService {

    private final DestinationResolver resolver;

    PolicyGrpcService(DestinationResolver resolver) {
        this.resolver = resolver;
    }

    @Override
    public Uni<OutboundPolicy> resolveOutbound(ResolveOutboundRequest request) {
        String domain = null;
        byte[] address = null;
        try {
            if (!request.getDomain().isBlank()) {
                domain = DomainName.normalise(request.getDomain());
            }
        } catch (IllegalArgumentException e) {
            return invalid("domain: " + e.getMessage());
        }
        if (!request.getNextHopIp().isBlank()) {
            String h = request.getNextHopIp().strip();
            if (h.startsWith("[") && h.endsWith("]")) {
                h = h.substring(1, h.length() - 1);
            }
            address = DestinationKey.parseAddress(h);
            if (address == null) {
                return invalid("next_hop_ip: '" + request.getNextHopIp() + "' is not an IP address");
            }
        }
        if (domain == null && address == null) {
            return invalid("domain: give a domain, a next_hop_ip, or both");
        }
        long version = resolver.version();
        return Uni.createFrom().item(toProto(resolver.resolve(domain, address), version));
    }

    @Override
    public Multi<PolicyChange> watchChanges(WatchChangesRequest request) {
        return Multi.createBy().concatenating().streams(
                        Multi.createFrom().item(resolver::version),
                        resolver.changes())
                .map(v -> PolicyChange.newBuilder().setVersion(v).build());
    }

    static OutboundPolicy toProto(EffectivePolicy p, long version) {
        DestinationSettings v = p.values();
        OutboundPolicy.Builder b = OutboundPolicy.newBuilder()
                .setMatchedKey(p.matchedKey())
                .setTls(OutboundTlsMode.valueOf(v.tls().name()))
                .setMaxConcurrentConnections(v.maxConcurrentConnections())
                .setMaxMessagesPerConnection(v.maxMessagesPerConnection())
                .setLimitsApplyPer(LimitsApplyPer.valueOf(v.limitsApplyPer().name()))
                .setLimitsScope(LimitsScope.valueOf(v.limitsScope().name()))
                .setIpPreference(IpPreference.valueOf(v.ipPreference().name()))
                .setBounceVerification(v.bounceVerification())
                .setBounceProfile(v.bounceProfile())
                .setVersion(version);
        if (v.recipientLimit().limited()) {
            b.setRecipientLimit(RecipientLimit.newBuilder()
                    .setRecipients(v.recipientLimit().recipients())
                    .setPerMinutes(v.recipientLimit().perMinutes()));
        }
        for (DestinationField f : DestinationField.values()) {
            b.putSources(f.jsonName(), p.sourceOf(f));
        }
        return b.build();
    }

    private static Uni<OutboundPolicy> invalid(String message) {
        return Uni.createFrom().failure(Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException());
    }
}
