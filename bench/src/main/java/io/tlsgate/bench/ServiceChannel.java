package io.tlsgate.bench;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;

/** The gRPC channel of a bench client to a tlsgate service: plaintext, the service token on every call. */
final class ServiceChannel {

    private ServiceChannel() {
    }

    /** The channel to {@code HOST PORT SERVICE_TOKEN}, the first three arguments of the bench's gRPC clients. */
    static ManagedChannel open(String[] args) {
        return open(args[0], Integer.parseInt(args[1]), args[2]);
    }

    static ManagedChannel open(String host, int port, String serviceToken) {
        Metadata auth = new Metadata();
        auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + serviceToken);
        // directExecutor: answers are handled on the channel's event-loop thread. The default
        // executor hands every answer to a pooled thread, and those hand-offs (futex calls, a
        // hundred threads) cost this 2-core machine more CPU than the server's work.
        return NettyChannelBuilder.forAddress(host, port).usePlaintext().directExecutor()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(auth)).build();
    }
}
