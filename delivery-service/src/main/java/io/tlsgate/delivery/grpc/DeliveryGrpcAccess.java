package io.tlsgate.delivery.grpc;

import io.tlsgate.platform.grpc.GrpcAccess;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.proto.delivery.v1.DeliveryServiceGrpc;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Set;

/** Who may call delivery-service over gRPC (docs/security.md): only listener-service may queue mail. */
@ApplicationScoped
public class DeliveryGrpcAccess implements GrpcAccess {

    private static final String ENQUEUE = DeliveryServiceGrpc.getEnqueueMethod().getFullMethodName();

    @Override
    public Set<String> callers(String fullMethodName) {
        return ENQUEUE.equals(fullMethodName) ? Set.of(ServiceIdentity.LISTENER) : Set.of();
    }
}
