package io.tlsgate.platform.identity;

import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.tlsgate.platform.tls.TlsEngine;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;

/**
 * gRPC channels to tlsgate services over TLS 1.3/1.2 (BoringSSL, else the JDK's engine); the
 * key and trust managers are asked on every handshake.
 */
public final class InternalChannelFactory {

    private InternalChannelFactory() {}

    public static ManagedChannel open(String target, KeyManager keys, TrustManager trust, String authority, int maxInbound,
            List<ClientInterceptor> interceptors) {
        SslContext ssl;
        try {
            // BoringSSL when it loads: the JDK's AES-GCM on Netty's direct buffers cost the listener
            // about a millisecond per queued message (bench/README.md, "internal mTLS").
            SslProvider provider = TlsEngine.preferred() == TlsEngine.OPENSSL ? SslProvider.OPENSSL : SslProvider.JDK;
            SslContextBuilder b = GrpcSslContexts.configure(SslContextBuilder.forClient(), provider)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .trustManager(trust);
            if (keys != null) {
                b.keyManager(keys);
            }
            ssl = b.build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot set up TLS for gRPC to " + target + ": " + e.getMessage(), e);
        }
        return ServiceTargets.configure(NettyChannelBuilder.forTarget(ServiceTargets.channelTarget(target)))
                .sslContext(ssl)
                .overrideAuthority(authority)
                .maxInboundMessageSize(maxInbound)
                .intercept(interceptors)
                .build();
    }
}
