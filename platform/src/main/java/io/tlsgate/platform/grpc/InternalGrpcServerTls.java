package io.tlsgate.platform.grpc;

import io.quarkus.grpc.api.ServerBuilderCustomizer;
import io.quarkus.grpc.runtime.config.GrpcServerConfiguration;
import io.tlsgate.platform.identity.IdentityState;
import io.tlsgate.platform.identity.InternalIdentity;
import io.vertx.core.http.ClientAuth;
import io.tlsgate.platform.tls.TlsEngine;
import io.vertx.core.net.KeyCertOptions;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.net.TrustOptions;
import io.vertx.grpc.VertxServerBuilder;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Puts the gRPC server (its own port, {@code quarkus.grpc.server.port}) on mutual TLS with this
 * service's {@link InternalIdentity}: it presents the identity, asks every client for one and
 * accepts only certificates of the internal CA; {@link CallerAuthorization} then decides per
 * method. A client without a certificate can finish the handshake (cert-service's enrolment
 * needs that) and is refused by {@link CallerAuthorization} everywhere else; plaintext gets no
 * answer. TLS 1.3 and 1.2 only ({@code quarkus.grpc.server.ssl.protocols}).
 */
@Singleton
public class InternalGrpcServerTls implements ServerBuilderCustomizer<VertxServerBuilder> {

    private final IdentityState identity;
    private final java.time.Duration maxConnectionAge;
    private final java.time.Duration maxConnectionAgeGrace;

    InternalGrpcServerTls(IdentityState identity,
            @ConfigProperty(name = "tlsgate.grpc.max-connection-age", defaultValue = "10m") java.time.Duration maxConnectionAge,
            @ConfigProperty(name = "tlsgate.grpc.max-connection-age-grace", defaultValue = "30m")
            java.time.Duration maxConnectionAgeGrace) {
        this.identity = identity;
        this.maxConnectionAge = maxConnectionAge;
        this.maxConnectionAgeGrace = maxConnectionAgeGrace;
    }

    @Override
    public void customize(GrpcServerConfiguration config, VertxServerBuilder builder) {
        // Clients connect again now and then, and resolve the service's name again on the way:
        // replicas added since (a scaled-up Deployment behind a headless Service) get their share.
        // Calls still running may finish within the grace time (a message's Enqueue, a watch).
        builder.nettyBuilder()
                .maxConnectionAge(maxConnectionAge.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                .maxConnectionAgeGrace(maxConnectionAgeGrace.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        builder.useSsl(options -> {
            options.setSsl(true)
                    .setKeyCertOptions(KeyCertOptions.wrap(identity.keyManager()))
                    .setTrustOptions(TrustOptions.wrap(identity.clientTrust()))
                    .setClientAuth(ClientAuth.REQUEST);
            if (TlsEngine.preferred() == TlsEngine.OPENSSL) {
                options.setSslEngineOptions(new OpenSSLEngineOptions()); // far cheaper records than the JDK's engine
            }
        });
    }
}
