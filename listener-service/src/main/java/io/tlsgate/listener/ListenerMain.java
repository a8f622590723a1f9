package io.tlsgate.listener;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

/**
 * listener-service's entry point: refuses client-initiated TLS renegotiation before anything in
 * the JVM can have served a TLS handshake (see {@link TlsRenegotiation} for why it has to be
 * this early), then starts Quarkus as usual.
 */
@QuarkusMain
public class ListenerMain {

    public static void main(String... args) {
        TlsRenegotiation.refuseClientInitiated();
        Quarkus.run(args);
    }
}
