package io.tlsgate.policy.grpc;

import io.tlsgate.platform.grpc.GrpcAccess;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.proto.policy.v1.PolicyServiceGrpc;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import java.util.Set;

/**
 * Who may call policy-service over gRPC (docs/security.md): delivery-service the outbound
 * lookups, listener-service the inbound ones, both the change stream.
 */
@ApplicationScoped
public class PolicyGrpcAccess implements GrpcAccess {

    private static final Set<String> DELIVERY = Set.of(ServiceIdentity.DELIVERY);
    private static final Set<String> LISTENER = Set.of(ServiceIdentity.LISTENER);
    private static final Map<String, Set<String>> CALLERS = Map.of(
            PolicyServiceGrpc.getResolveOutboundMethod().getFullMethodName(), DELIVERY,
            PolicyServiceGrpc.getResolveRouteMethod().getFullMethodName(), DELIVERY,
            PolicyServiceGrpc.getGetOutboundSettingsMethod().getFullMethodName(), DELIVERY,
            PolicyServiceGrpc.getResolveInboundMethod().getFullMethodName(), LISTENER,
            PolicyServiceGrpc.getIsAcceptedRecipientMethod().getFullMethodName(), LISTENER,
            PolicyServiceGrpc.getListListenersMethod().getFullMethodName(), LISTENER,
            PolicyServiceGrpc.getWatchChangesMethod().getFullMethodName(), Set.of(ServiceIdentity.DELIVERY, ServiceIdentity.LISTENER));

    @Override
    public Set<String> callers(String fullMethodName) {
        return CALLERS.getOrDefault(fullMethodName, Set.of());
    }
}
