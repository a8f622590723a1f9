package io.tlsgate.policy.grpc;

import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;
import io.tlsgate.policy.destination.DestinationControls;
import io.tlsgate.proto.policy.v1.OutboundPolicy;
import io.tlsgate.proto.policy.v1.OutboundTlsMode;
import io.tlsgate.proto.policy.v1.PolicyService;
import io.tlsgate.proto.policy.v1.ResolveOutboundRequest;

/** gRPC edge of policy-service: maps wire types to the domain and back, nothing more. */
@GrpcService
public class PolicyGrpcService implements PolicyService {

    private final DestinationControls controls;

    PolicyGrpcService(DestinationControls controls) {
        this.controls = controls;
    }

    @Override
    @Blocking
    public Uni<OutboundPolicy> resolveOutbound(ResolveOutboundRequest request) {
        io.tlsgate.policy.destination.OutboundPolicy p;
        try {
            p = controls.resolve(request.getDomain());
        } catch (IllegalArgumentException e) {
            return Uni.createFrom().failure(Status.INVALID_ARGUMENT.withDescription("domain: " + e.getMessage())
                    .asRuntimeException());
        }
        return Uni.createFrom().item(OutboundPolicy.newBuilder()
                .setTls(OutboundTlsMode.valueOf(p.tls().name()))
                .setTlsSuppliedBy(p.tlsSuppliedBy())
                .setMaxConcurrentConnections(p.maxConcurrentConnections())
                .setMaxMessagesPerConnection(p.maxMessagesPerConnection())
                .setBounceProfile(p.bounceProfile())
                .build());
    }
}
