package io.tlsgate.delivery.smtp;

import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
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
 * <p>The handshake accepts any server certificate ({@link TrustCheck#HANDSHAKE}): the mode
 * decides what a bad one means, after the handshake, on every connection, resumed or not.
 */
final class TlsClients {
    /** How long one client (and its TLS session caches) serves new connections. */
    static final Duration LIFETIME = Duration.ofHours(1);

    private final Vertx vertx;
    private final Duration connectTimeout;
    private final Duration handshakeTimeout;
    private final boolean keep;
    private Generation current;

    /**
     * {@code keep}: false for a one-off attempt (tests, probes): each client closes with its
     * last connection, and the next connection starts a new one.
     */
    TlsClients(Vertx vertx, Duration connectTimeout, Duration handshakeTimeout, boolean keep) {
        this.vertx = vertx;
        this.connectTimeout = connectTimeout;
        this.handshakeTimeout = handshakeTimeout;
        this.keep = keep;
    }

    /** A client for one connection presenting {@code clientKey} (null: none); release it when the socket closes. */
    synchronized Lease lease(KeyManagerFactory clientKey) {
        long now = System.nanoTime();
        if (current == null || current.key != clientKey || now - current.born > LIFETIME.toNanos()) {
            Generation old = current;
            current = new Generation(clientKey, vertx.createNetClient(options(clientKey)), now);
            if (old != null) {
                old.retired = true;
                closeIfDone(old);
            }
        }
        current.leases++;
        return new Lease(this, current);
    }

    private synchronized void release(Generation g) {
        g.leases--;
        if (!keep && g == current) {
            g.retired = true;
            current = null;
        }
        closeIfDone(g);
    }

    private static void closeIfDone(Generation g) {
        if (g.retired && g.leases == 0) {
            g.client.close();
        }
    }

    private NetClientOptions options(KeyManagerFactory clientKey) {
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
