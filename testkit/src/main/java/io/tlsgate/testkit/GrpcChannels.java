package io.tlsgate.testkit;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.net.URL;

/** Real gRPC channels to a service under test (plaintext, loopback). */
public final class GrpcChannels {

    private GrpcChannels() {}

    /** A channel to the service at {@code url} (its HTTP port also serves gRPC), sending {@code token} when not null. */
    public static ManagedChannel open(URL url, String token) {
        ManagedChannelBuilder<?> b = ManagedChannelBuilder.forAddress(url.getHost(), url.getPort()).usePlaintext();
        if (token != null) {
            Metadata m = new Metadata();
            m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), TestTokens.bearer(token));
            b.intercept(MetadataUtils.newAttachHeadersInterceptor(m));
        }
        return b.build();
    }
}
