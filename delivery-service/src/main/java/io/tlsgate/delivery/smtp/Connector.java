package io.tlsgate.delivery.smtp;

import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Gate;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Message;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Pool;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Result;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Target;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Timeouts;
import io.tlsgate.platform.tls.TlsEngine;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetSocket;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An attempt's way to a connection: an idle one from the {@link Pool} that may still carry
 * the messages, else a new one, admitted by the {@link Gate} and connected within the connect
 * timeout (shortened to the deadline), with the TLS settings its handshake will use.
 * {@code maxPerConnection}: the most messages one connection may carry over all its uses (the
 * destination's maxMessagesPerConnection); {@code gate}: admits each new connection (the
 * destination's concurrency limit); {@code clients}: the shared clients connections are made
 * with (their TLS sessions are resumed across connections).
 */
record Connector(Vertx vertx, long dcid, Timeouts timeouts, Pool pool, int maxPerConnection, Gate gate, TlsClients clients) {

    Future<Result> start(Target t, List<Message> messages) {
        Session idle = pool == null ? null : pool.take(t, messages.size(), maxPerConnection);
        if (idle != null) {
            Promise<Result> result = Promise.promise();
            idle.context.runOnContext(v -> idle.reuse(timeouts, maxPerConnection, messages)
                    .recover(e -> fresh(t, messages)).onComplete(result));
            return result.future();
        }
        return fresh(t, messages);
    }

    private Future<Result> fresh(Target t, List<Message> messages) {
        // Everything happens on one event loop, starting there: a listener attached from
        // another thread after a fast connect would run as a later task, and the greeting,
        // read before the socket had a handler, would be lost.
        Context context = vertx.getOrCreateContext();
        Promise<Result> result = Promise.promise();
        context.runOnContext(v -> admitted(t, messages, clients.engine()).onComplete(result));
        return result.future();
    }

    /**
     * A connection admitted by the gate, made with {@code engine}. BoringSSL refuses some
     * certificates in the handshake that the JDK's TLS takes (and the mode then judges): for
     * those the connection is made once more with the JDK's.
     */
    private Future<Result> admitted(Target t, List<Message> messages, TlsEngine engine) {
        return gate.admit(t).compose(release -> connect(t, messages, once(release), engine)).compose(r ->
                engine != TlsEngine.JDK && TlsEngine.keyUsageRefused(r.reason())
                        ? admitted(t, messages, TlsEngine.JDK) : Future.succeededFuture(r));
    }

    /** The permit goes back exactly once: when the socket closes, or when the connect fails. */
    private static Runnable once(Runnable r) {
        AtomicBoolean done = new AtomicBoolean();
        return () -> {
            if (done.compareAndSet(false, true)) {
                r.run();
            }
        };
    }

    private Future<Result> connect(Target t, List<Message> messages, Runnable release, TlsEngine engine) {
        TlsClients.Lease lease = clients.lease(t.clientKey(), engine);
        Runnable done = once(() -> {
            release.run();
            lease.release();
        });
        return connectWithin(lease, t, connectTimeout())
                .recover(e -> {
                    done.run();
                    return Future.failedFuture(e instanceof IOException ? e : new IOException(e.getMessage(), e));
                })
                .compose(socket -> {
                    // The session gives the permit and the client back when the socket closes:
                    // now, or after an idle spell in the pool.
                    Session session = new Session(this, t, messages, socket, done);
                    return session.run().onFailure(e -> socket.close()).eventually(v -> {
                        session.end();
                        return Future.succeededFuture();
                    });
                });
    }

    /** A socket to {@code t} within {@code timeout}; one that connects later is closed. */
    private Future<NetSocket> connectWithin(TlsClients.Lease lease, Target t, Duration timeout) {
        Promise<NetSocket> connected = Promise.promise();
        long timer = vertx.setTimer(timeout.toMillis(), id -> connected.tryFail(
                new IOException("connection timed out after " + timeout.toMillis() + " ms: " + t.host() + ":" + t.port())));
        lease.client().connect(t.port(), t.host()).onComplete(ar -> {
            vertx.cancelTimer(timer);
            if (ar.failed()) {
                connected.tryFail(ar.cause());
            } else if (!connected.tryComplete(ar.result())) {
                ar.result().close();
            }
        });
        return connected.future();
    }

    /** The connect timeout, shortened to what is left before the deadline. */
    private Duration connectTimeout() {
        if (timeouts.deadline() == null) {
            return timeouts.connect();
        }
        long left = Duration.between(Instant.now(), timeouts.deadline()).toMillis();
        return Duration.ofMillis(Math.max(1, Math.min(left, timeouts.connect().toMillis())));
    }
}
