package io.tlsgate.platform.identity;

import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;

/** gRPC channels to tlsgate services over TLS 1.3/1.2 with the JDK's engine (so key and trust managers are asked on every handshake). */
public final class InternalChannelFactory {

    private InternalChannelFactory() {}

    public static ManagedChannel open(String target, KeyManager keys, TrustManager trust, String authority, int maxInbound,
            List<ClientInterceptor> interceptors) {
        SslContext ssl;
        try {
            SslContextBuilder b = GrpcSslContexts.configure(SslContextBuilder.forClient(), SslProvider.JDK)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .trustManager(trust);
            if (keys != null) {
                b.keyManager(keys);
            }
            ssl = b.build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot set up TLS for gRPC to " + target + ": " + e.getMessage(), e);
        }
        return NettyChannelBuilder.forTarget(target)
                .sslContext(ssl)
                .overrideAuthority(authority)
                .maxInboundMessageSize(maxInbound)
                .intercept(interceptors)
                .build();
    }
}
