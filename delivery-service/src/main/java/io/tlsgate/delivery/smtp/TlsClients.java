package io.tlsgate.delivery.smtp;

import io.tlsgate.platform.tls.TlsEngine;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.net.TrustOptions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;

/**
 * The Vert.x clients outbound connections are made with, shared by all of them: one TLS
 * context per server name for a client's life, so the TLS sessions servers hand out are
 * resumed on the next connection (RFC 8446 §2.2) and nothing is rebuilt per connection.
 * A client serves one client key (a new key from cert-service starts a new client) for at
 * most {@code lifetime} (its per-name contexts and session caches go with it); a replaced
 * client is closed once its last connection is. Each connection holds a {@link Lease}.
 *
 * <p>{@code engine}: BoringSSL or the JDK ({@link TlsEngine}). The handshake accepts any server certificate ({@link TrustCheck#HANDSHAKE}): the mode
 * decides what a bad one means, after the handshake, on every connection, resumed or not.
 */
final class TlsClients {
    /** How long one client (and its TLS session caches) serves new connections. */
    static final Duration LIFETIME = Duration.ofHours(1);

    private final Vertx vertx;
    private final TlsEngine engine;
    private final Duration connectTimeout;
    private final Duration handshakeTimeout;
    private final boolean keep;
    /** The client of each engine ({@link TlsEngine#ordinal}) that new connections get. */
    private final Generation[] current = new Generation[TlsEngine.values().length];

    /**
     * {@code keep}: false for a one-off attempt (tests, probes): each client closes with its
     * last connection, and the next connection starts a new one.
     */
    TlsClients(Vertx vertx, TlsEngine engine, Duration connectTimeout, Duration handshakeTimeout, boolean keep) {
        this.vertx = vertx;
        this.engine = engine.orFallback();
        this.connectTimeout = connectTimeout;
        this.handshakeTimeout = handshakeTimeout;
        this.keep = keep;
    }

    /** The engine connections use unless told otherwise. */
    TlsEngine engine() {
        return engine;
    }

    /**
     * A client of {@code engine} for one connection presenting {@code clientKey} (null: none);
     * release it when the socket closes.
     */
    synchronized Lease lease(KeyManagerFactory clientKey, TlsEngine engine) {
        long now = System.nanoTime();
        int i = engine.ordinal();
        Generation g = current[i];
        if (g == null || g.key != clientKey || now - g.born > LIFETIME.toNanos()) {
            current[i] = new Generation(clientKey, vertx.createNetClient(options(clientKey, engine)), now);
            if (g != null) {
                g.retired = true;
                closeIfDone(g);
            }
            g = current[i];
        }
        g.leases++;
        return new Lease(this, g);
    }

    private synchronized void release(Generation g) {
        g.leases--;
        if (!keep && !g.retired) {
            g.retired = true;
            for (int i = 0; i < current.length; i++) {
                if (current[i] == g) {
                    current[i] = null;
                }
            }
        }
        closeIfDone(g);
    }

    private static void closeIfDone(Generation g) {
        if (g.retired && g.leases == 0) {
            g.client.close();
        }
    }

    private NetClientOptions options(KeyManagerFactory clientKey, TlsEngine engine) {
        NetClientOptions options = new NetClientOptions()
                // Connections are cut shorter by their attempt's own deadline.
                .setConnectTimeout((int) connectTimeout.toMillis())
                // Host names are checked by the mode's identity rule, not by the TLS layer.
                .setHostnameVerificationAlgorithm("")
                .setTrustOptions(TrustOptions.wrap(TrustCheck.HANDSHAKE))
                .setSslHandshakeTimeout(handshakeTimeout.toMillis())
                .setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS);
        if (clientKey != null) {
            options.setKeyCertOptions(new ClientKey(clientKey));
        }
        if (engine == TlsEngine.OPENSSL) {
            options.setSslEngineOptions(new OpenSSLEngineOptions().setSessionCacheEnabled(true));
        }
        return options;
    }

    private static final class Generation {
        final KeyManagerFactory key;
        final NetClient client;
        final long born;
        int leases;
        boolean retired;

        Generation(KeyManagerFactory key, NetClient client, long born) {
            this.key = key;
            this.client = client;
            this.born = born;
        }
    }

    /** One connection's use of a client: {@link #release} once, when the connection is over. */
    static final class Lease {
        private final TlsClients owner;
        private final Generation generation;
        private boolean released;

        private Lease(TlsClients owner, Generation generation) {
            this.owner = owner;
            this.generation = generation;
        }

        NetClient client() {
            return generation.client;
        }

        void release() {
            synchronized (owner) {
                if (released) {
                    return;
                }
                released = true;
            }
            owner.release(generation);
        }
    }
}
