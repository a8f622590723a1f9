package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsDecision.Step;
import io.tlsgate.core.tls.Verification;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Message;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Pool;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Result;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Target;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Timeouts;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Transaction;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetSocket;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One SMTP connection over its uses; every method runs on the socket's event loop. The first
 * use decides TLS ({@link TlsNegotiation}), sends the messages ({@link MailTransactions}) and
 * builds the result; then the connection may wait in the {@link Pool} for the next messages to
 * the same target, which a later use sends after an RSET under the first use's TLS facts.
 */
final class Session {
    private final Vertx vertx;
    private final long dcid;
    private final Pool pool;
    private final Target t;
    private final SessionIo io;
    final Context context = Vertx.currentContext();
    private List<Message> messages;
    /** This use's mail-log lines. */
    private MailLog log;
    /** The first use's result: the connection's TLS facts for later uses. */
    private Result facts;
    private boolean parked;
    private long idleTimer = -1;
    /** Messages this connection carried (transactions), over all its uses. */
    private volatile int sent;
    private int maxMessages;
    /** The EHLO reply that applies to the transactions (after STARTTLS: the second one). */
    private String ehlo = "";

    /** A new connection's session; {@code release} runs once, when the socket closes. */
    Session(Connector c, Target t, List<Message> messages, NetSocket socket, Runnable release) {
        this.vertx = c.vertx();
        this.dcid = c.dcid();
        this.pool = c.pool();
        this.maxMessages = c.maxPerConnection();
        this.t = t;
        this.messages = messages;
        this.log = new MailLog(dcid);
        this.io = new SessionIo(vertx, socket, release, this::closed, c.timeouts(), t.recipientDomain());
    }

    /** The socket closed: an idle connection leaves the pool. */
    private void closed() {
        if (parked) {
            pool.remove(t, this);
            cancelIdle();
        }
    }

    int sent() {
        return sent;
    }

    /** The first use: TLS decided, logged and the messages sent when the decision lets them go. */
    Future<Result> run() {
        log.connected(io.socket().localAddress().host(), t);
        return new TlsNegotiation(vertx, t, io, log).run().compose(o -> {
            ehlo = o.ehlo();
            return finish(o);
        });
    }

    /**
     * Logs the TLS outcome, sends the messages when the step says so, says QUIT (or parks the
     * connection), and builds the result.
     */
    private Future<Result> finish(TlsNegotiation.Outcome o) {
        Step s = o.step();
        if (s.reason() != null && o.verification() == Verification.NOT_CHECKED) {
            log.tlsFailed(s.reason());
        }
        boolean alert = t.mode().alertsOnFailure() && s.action() == Action.TEMPFAIL;
        if (alert) {
            log.tlsRequired(t.host());
        }
        boolean send = o.connected() && (s.action() == Action.SEND_PLAINTEXT || s.action() == Action.SEND_ENCRYPTED);
        List<Transaction> done = new ArrayList<>();
        Future<Void> sending = send ? hello(s).compose(v -> transactions(done)) : Future.succeededFuture();
        return sending.transform(ar -> {
            if (ar.failed() && done.isEmpty()) {
                return Future.failedFuture(ar.cause());
            }
            String error = ar.failed() ? String.valueOf(ar.cause().getMessage()) : null;
            Result r = new Result(s.action(), s.action() == Action.SEND_ENCRYPTED, o.protocol(), o.cipher(),
                    o.verification(), s.resultType(), s.reason(), alert, List.copyOf(done), error, log.lines(), dcid,
                    false);
            return send ? afterUse(r, false, error, done) : quit(o.connected()).map(v -> r);
        });
    }

    /** EHLO again after TLS (RFC 3207 §4.2: forget what was learnt before); the plaintext EHLO reply stands otherwise. */
    private Future<Void> hello(Step s) {
        return s.action() == Action.SEND_ENCRYPTED ? io.command("EHLO " + t.heloName()).map(r -> {
            ehlo = r;
            return null;
        }) : Future.succeededFuture();
    }

    private Future<Void> transactions(List<Transaction> done) {
        return new MailTransactions(io, log, ehlo, t.requireTls()).send(messages, 0, done);
    }

    /**
     * Another use of this idle connection: RSET (which also shows it is alive), then the
     * messages. Fails, and closes the connection, when it cannot be used; the caller
     * opens a new one then.
     */
    Future<Result> reuse(Timeouts useTimeouts, int useMax, List<Message> next) {
        cancelIdle();
        parked = false;
        if (!io.healthy()) {
            return Future.failedFuture(new IOException("the idle connection was closed"));
        }
        maxMessages = useMax;
        messages = next;
        log = new MailLog(dcid);
        io.use(useTimeouts);
        List<Transaction> done = new ArrayList<>();
        return io.command("RSET").compose(r -> r.startsWith("2") ? transactions(done)
                : Future.failedFuture(new IOException("RSET refused: " + r)))
                .transform(ar -> {
                    if (ar.failed() && done.isEmpty()) {
                        io.socket().close();
                        return Future.failedFuture(ar.cause());
                    }
                    return afterUse(facts, true, ar.failed() ? String.valueOf(ar.cause().getMessage()) : null, done);
                })
                .eventually(v -> {
                    end();
                    return Future.succeededFuture();
                });
    }

    /**
     * The result of a use that sent messages; the connection then waits in the pool for
     * the next messages to the same target when it is healthy and there is room, and says
     * QUIT otherwise.
     */
    private Future<Result> afterUse(Result tlsFacts, boolean reused, String error, List<Transaction> done) {
        Result r = new Result(tlsFacts.action(), tlsFacts.encrypted(), tlsFacts.protocol(), tlsFacts.cipher(),
                tlsFacts.verification(), tlsFacts.resultType(), tlsFacts.reason(), tlsFacts.alert() && !reused,
                List.copyOf(done), error, log.lines(), dcid, reused);
        facts = r;
        sent += done.size();
        if (pool != null && error == null && io.healthy() && sent < maxMessages && pool.put(t, this)) {
            parked = true;
            messages = List.of(); // the contents are not held while idle
            // This use's deadline timer goes with end(), which every caller runs after the use.
            idleTimer = vertx.setTimer(pool.idleMillis, id -> {
                idleTimer = -1;
                if (pool.remove(t, this)) {
                    parked = false;
                    quit(true);
                }
            });
            return Future.succeededFuture(r);
        }
        return quit(true).map(v -> r);
    }

    /** QUIT and close; only the close on a connection that never got going or can no longer be trusted. */
    private Future<Void> quit(boolean connected) {
        if (!connected || !io.healthy()) {
            return io.socket().close().otherwiseEmpty();
        }
        return io.command("QUIT").<Void>mapEmpty().otherwiseEmpty().compose(v -> io.socket().close().otherwiseEmpty());
    }

    private void cancelIdle() {
        if (idleTimer >= 0) {
            vertx.cancelTimer(idleTimer);
            idleTimer = -1;
        }
    }

    /** The use is over: no timer of its may outlive it. */
    void end() {
        io.end();
    }
}
