package io.tlsgate.testkit;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.security.cert.X509Certificate;

/**
 * Real gRPC channels to a service under test on loopback: over mutual TLS as one of the
 * {@link TestIdentities} (or with none, or in plaintext, to see those refused).
 */
public final class GrpcChannels {

    private GrpcChannels() {}

    /** The gRPC port of the {@code @QuarkusTest} application of this JVM. */
    public static int testPort() {
        return org.eclipse.microprofile.config.ConfigProvider.getConfig()
                .getValue("quarkus.grpc.server.test-port", Integer.class);
    }

    /** A channel to {@code server} at {@code port} on loopback, as {@code caller} (null: no client certificate). */
    public static ManagedChannel open(int port, TestIdentities.Identity caller, String server) {
        return open("localhost", port, caller, TestIdentities.get().ca(), server);
    }

    /** As {@link #open(int, TestIdentities.Identity, String)} against any host, trusting {@code ca}. */
    public static ManagedChannel open(String host, int port, TestIdentities.Identity caller, X509Certificate ca, String server) {
        try {
            SslContextBuilder ssl = GrpcSslContexts.configure(SslContextBuilder.forClient(), SslProvider.JDK).trustManager(ca);
            if (caller != null) {
                ssl.keyManager(new AlwaysPresent(caller));
            }
            return NettyChannelBuilder.forAddress(host, port).sslContext(ssl.build()).overrideAuthority(server).build();
        } catch (javax.net.ssl.SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Presents the caller's certificate whatever CAs the server asks for (the JDK's own key
     * manager would keep a foreign one back), so that the server's own check is what refuses it.
     */
    private static final class AlwaysPresent extends javax.net.ssl.X509ExtendedKeyManager {
        private final TestIdentities.Identity id;

        AlwaysPresent(TestIdentities.Identity id) {
            this.id = id;
        }

        @Override
        public String[] getClientAliases(String keyType, java.security.Principal[] issuers) {
            return new String[] {"id"};
        }

        @Override
        public String chooseClientAlias(String[] keyType, java.security.Principal[] issuers, java.net.Socket socket) {
            return "id";
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, java.security.Principal[] issuers, javax.net.ssl.SSLEngine engine) {
            return "id";
        }

        @Override
        public String[] getServerAliases(String keyType, java.security.Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseServerAlias(String keyType, java.security.Principal[] issuers, java.net.Socket socket) {
            return null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return new X509Certificate[] {id.certificate()};
        }

        @Override
        public java.security.PrivateKey getPrivateKey(String alias) {
            return id.keys().getPrivate();
        }
    }

    /** A plaintext channel (every tlsgate gRPC port refuses it). */
    public static ManagedChannel plaintext(int port) {
        return ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
    }
}
