package io.tlsgate.platform.grpc;

import java.util.Set;

/**
 * Who may call which method of a service's gRPC API: each service that serves gRPC provides
 * one bean; {@link CallerAuthorization} applies it to every call. A method it does not name is
 * refused to everyone.
 */
public interface GrpcAccess {

    /** The services (identity names) that may call {@code fullMethodName}; empty: nobody. */
    Set<String> callers(String fullMethodName);

    /**
     * Methods that need no client certificate because they authenticate otherwise
     * (cert-service's enrolment). Default: none.
     */
    default boolean open(String fullMethodName) {
        return false;
    }

    /**
     * A further check of each request message of an allowed call (for example the slot a
     * bundle is asked for, or a token in the call's {@code headers}): null when allowed, else
     * why not. {@code caller} is null on an open method called without a certificate.
     */
    default String refuse(String caller, String fullMethodName, io.grpc.Metadata headers, Object request) {
        return null;
    }
}
