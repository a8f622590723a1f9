package io.tlsgate.platform.grpc;

import io.grpc.ManagedChannel;
import io.tlsgate.platform.identity.InternalIdentity;
import io.tlsgate.platform.identity.IdentityState;
import io.tlsgate.platform.identity.InternalChannelFactory;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;

/**
 * The one place where channels to the other tlsgate services are built (policy-, cert- and
 * delivery-service's gRPC APIs): mutual TLS with this service's identity, and the server must
 * prove it is the service the caller meant (docs/security.md). The client that opens a channel
 * shuts it down.
 */
@ApplicationScoped
public class InternalChannels {

    /** gRPC's own default for the largest message a channel accepts. */
    public static final int DEFAULT_MAX_INBOUND = 4 * 1024 * 1024;

    private final InternalIdentity identity;
    private final IdentityState state;

    InternalChannels(InternalIdentity identity, IdentityState state) {
        this.identity = identity;
        this.state = state;
    }

    /** A channel to {@code service} at {@code target} ({@code host:port} of its gRPC port). */
    public ManagedChannel open(String target, String service) {
        return open(target, service, DEFAULT_MAX_INBOUND);
    }

    /** As {@link #open(String, String)}, accepting replies of at most {@code maxInboundMessageSize} bytes. */
    public ManagedChannel open(String target, String service, int maxInboundMessageSize) {
        identity.service(); // this service's identity first (made here if it does not exist yet)
        return InternalChannelFactory.open(target, state.keyManager(), state.serverTrust(service), service, maxInboundMessageSize,
                List.of());
    }
}
