package io.tlsgate.platform.auth;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Optional;

/** Adds the configured service token to every outgoing gRPC call. Security-sensitive. */
@ApplicationScoped
@GlobalInterceptor
public class ServiceTokenClientInterceptor implements ClientInterceptor {

    private final Optional<String> header;

    ServiceTokenClientInterceptor(AuthConfig config) {
        this.header = config.serviceToken().map(t -> BearerTokenAuthenticationMechanism.SCHEME + " " + t);
    }

    @Override
    public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
            @Override
            public void start(Listener<A> responseListener, Metadata headers) {
                header.ifPresent(h -> headers.put(ServiceTokenServerInterceptor.AUTHORIZATION, h));
                super.start(responseListener, headers);
            }
        };
    }
}
