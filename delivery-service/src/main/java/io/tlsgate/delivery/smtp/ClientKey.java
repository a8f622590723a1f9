package io.tlsgate.delivery.smtp;

import io.vertx.core.Vertx;
import io.vertx.core.net.KeyCertOptions;
import javax.net.ssl.KeyManagerFactory;

/**
 * The client key for every server name. Vert.x's own wrapper looks a key up by the SNI
 * name when the socket is upgraded with one, which a client key manager cannot answer.
 */
record ClientKey(KeyManagerFactory factory) implements KeyCertOptions {
    @Override
    public KeyCertOptions copy() {
        return this;
    }

    @Override
    public KeyManagerFactory getKeyManagerFactory(Vertx vertx) {
        return factory;
    }

    @Override
    public java.util.function.Function<String, KeyManagerFactory> keyManagerFactoryMapper(Vertx vertx) {
        return serverName -> factory;
    }
}
