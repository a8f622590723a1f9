package io.tlsgate.platform.grpc;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.tlsgate.platform.auth.ServiceTokenClientInterceptor;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * The one place where channels to the other tlsgate services are built (policy-, cert- and
 * delivery-service's gRPC APIs): every internal call carries the service token
 * ({@link ServiceTokenClientInterceptor}), and the transport settings of internal calls are
 * decided here for every client. The client that opens a channel shuts it down.
 */
@ApplicationScoped
public class InternalChannels {

    /** gRPC's own default for the largest message a channel accepts. */
    public static final int DEFAULT_MAX_INBOUND = 4 * 1024 * 1024;

    private final ServiceTokenClientInterceptor token;

    InternalChannels(ServiceTokenClientInterceptor token) {
        this.token = token;
    }

    /** A channel to another service at {@code target} ({@code host:port}). */
    public ManagedChannel open(String target) {
        return open(target, DEFAULT_MAX_INBOUND);
    }

    /** As {@link #open(String)}, accepting replies of at most {@code maxInboundMessageSize} bytes. */
    public ManagedChannel open(String target, int maxInboundMessageSize) {
        return ManagedChannelBuilder.forTarget(target).usePlaintext().intercept(token).maxInboundMessageSize(maxInboundMessageSize)
                .build();
    }
}
