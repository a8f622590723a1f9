package io.tlsgate.platform.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import io.tlsgate.platform.identity.ServiceIdentity;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.jboss.logging.Logger;

/**
 * The gate in front of every internal gRPC method: the caller is the service named by the
 * client certificate it presented in the mutual TLS handshake (already checked against the
 * internal CA by then), and the service's {@link GrpcAccess} says whether that caller may use
 * the method, and with which requests. Everything else is closed with
 * {@code UNAUTHENTICATED} (no certificate) or {@code PERMISSION_DENIED} before any service
 * code runs, and logged. The standard gRPC health service stays open.
 *
 * <p>Security-sensitive.
 */
@ApplicationScoped
@GlobalInterceptor
public class CallerAuthorization implements ServerInterceptor {

    /** The calling service's name, for service code that wants it. */
    public static final Context.Key<String> CALLER = Context.key("tlsgate-caller");

    private static final Logger LOG = Logger.getLogger(CallerAuthorization.class);
    private static final String HEALTH_SERVICE = "grpc.health.v1.Health";

    private final GrpcAccess access;

    CallerAuthorization(Instance<GrpcAccess> access) {
        // A service without rules serves nothing to anyone.
        this.access = access.isResolvable() ? access.get() : method -> java.util.Set.of();
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        if (HEALTH_SERVICE.equals(call.getMethodDescriptor().getServiceName())) {
            return next.startCall(call, headers);
        }
        Optional<String> caller = caller(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
        if (caller.isEmpty() && !access.open(method)) {
            return refuse(call, Status.UNAUTHENTICATED, method, "no client certificate naming a tlsgate service", null);
        }
        if (caller.isPresent() && !access.open(method) && !access.callers(method).contains(caller.get())) {
            return refuse(call, Status.PERMISSION_DENIED, method, caller.get() + " may not call it", caller.get());
        }
        String who = caller.orElse(null);
        Context ctx = Context.current().withValue(CALLER, who);
        ServerCall.Listener<Q> delegate = Contexts.interceptCall(ctx, call, headers, next);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
            private boolean refused;

            @Override
            public void onMessage(Q message) {
                if (refused) {
                    return;
                }
                String why = access.refuse(who, method, headers, message);
                if (why != null) {
                    refused = true;
                    log(call, method, why, who);
                    call.close(Status.PERMISSION_DENIED.withDescription(why), new Metadata());
                    return;
                }
                super.onMessage(message);
            }

            @Override
            public void onHalfClose() {
                if (!refused) {
                    super.onHalfClose();
                }
            }

            @Override
            public void onReady() {
                if (!refused) {
                    super.onReady();
                }
            }
        };
    }

    private static <Q, A> ServerCall.Listener<Q> refuse(ServerCall<Q, A> call, Status status, String method, String why,
            String caller) {
        log(call, method, why, caller);
        call.close(status.withDescription(why), new Metadata());
        return new ServerCall.Listener<>() {};
    }

    private static void log(ServerCall<?, ?> call, String method, String why, String caller) {
        SocketAddress from = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        LOG.warnf("refused gRPC call %s from %s (%s): %s", method, from, caller == null ? "no identity" : caller, why);
    }

    /** The service the verified client certificate names. */
    static Optional<String> caller(SSLSession session) {
        if (session == null) {
            return Optional.empty();
        }
        try {
            Certificate[] peer = session.getPeerCertificates();
            return peer.length > 0 && peer[0] instanceof X509Certificate leaf ? ServiceIdentity.of(leaf) : Optional.empty();
        } catch (SSLPeerUnverifiedException e) {
            return Optional.empty();
        }
    }
}
