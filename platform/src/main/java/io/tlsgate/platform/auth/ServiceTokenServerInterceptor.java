package io.tlsgate.platform.auth;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import io.tlsgate.core.auth.TokenTable;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Every incoming gRPC call must carry the service token ({@code authorization: Bearer <token>});
 * otherwise it is closed with UNAUTHENTICATED before any service code runs. The standard
 * gRPC health service stays open, like {@code /q/health}.
 *
 * <p>Security-sensitive: this is the only gate in front of the internal APIs, including the
 * one that serves private keys.
 */
@ApplicationScoped
@GlobalInterceptor
public class ServiceTokenServerInterceptor implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String HEALTH_SERVICE = "grpc.health.v1.Health";

    private final Tokens tokens;

    ServiceTokenServerInterceptor(Tokens tokens) {
        this.tokens = tokens;
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
            ServerCallHandler<Q, A> next) {
        if (HEALTH_SERVICE.equals(call.getMethodDescriptor().getServiceName())) {
            return next.startCall(call, headers);
        }
        boolean ok = TokenTable.bearerToken(headers.get(AUTHORIZATION)).map(tokens::isServiceToken).orElse(false);
        if (!ok) {
            call.close(Status.UNAUTHENTICATED.withDescription("missing or invalid service token"), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
    }
}
