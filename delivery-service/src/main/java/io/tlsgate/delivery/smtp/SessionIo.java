package io.tlsgate.delivery.smtp;

import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Timeouts;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The I/O of one SMTP session on one socket; every method runs on the socket's event loop.
 * Each command is counted in the {@link ReplyReader} before it is written, so every reply must
 * answer one command: a reply nobody asked for, or plaintext after the 220 to STARTTLS,
 * ends the session (replies completed before it still count). Each reply is waited for under
 * the use's {@link Timeouts}, and the use's deadline cuts the session off whatever it is doing.
 */
final class SessionIo {
    private final Vertx vertx;
    private final NetSocket socket;
    /** The recipient domain, for the deadline's message. */
    private final String domain;
    /** This use's timeouts (a pooled connection's next use brings its own deadline). */
    private Timeouts timeouts;
    private final ReplyReader reader = new ReplyReader();
    private final ArrayDeque<String> replies = new ArrayDeque<>();
    private Promise<String> waiting;
    /** The content being written, failed when the connection breaks mid-way. */
    private Promise<Void> writing;
    /** The TLS handshake under way, if any. */
    private Promise<Void> upgrading;
    private long timer = -1;
    private long deadlineTimer = -1;
    private boolean closed;
    /** Set once the peer broke the protocol (or the deadline passed): nothing more is sent or believed. */
    private IOException violation;

    /**
     * Takes over {@code socket}: when it closes, {@code release} runs (the connection's permit
     * and client go back), then {@code onClose}, and whatever waits fails.
     */
    SessionIo(Vertx vertx, NetSocket socket, Runnable release, Runnable onClose, Timeouts timeouts,
            String domain) {
        this.vertx = vertx;
        this.socket = socket;
        this.timeouts = timeouts;
        this.domain = domain;
        reader.expect(1); // the greeting
        socket.handler(this::data);
        socket.closeHandler(v -> {
            closed = true;
            release.run();
            onClose.run();
            fail(new IOException("connection closed by the peer"));
        });
        socket.exceptionHandler(e -> {
            if (upgrading != null) {
                upgrading.tryFail(e);
            }
            fail(e instanceof IOException io ? io : new IOException(e.getMessage(), e));
        });
        startDeadline();
    }

    /** Another use of the connection, under its own timeouts and deadline. */
    void use(Timeouts useTimeouts) {
        timeouts = useTimeouts;
        startDeadline();
    }

    private void startDeadline() {
        if (timeouts.deadline() != null) {
            long left = Math.max(1, Duration.between(Instant.now(), timeouts.deadline()).toMillis());
            deadlineTimer = vertx.setTimer(left, id -> {
                deadlineTimer = -1;
                broken(new IOException("the delivery deadline for " + domain + " passed"));
            });
        }
    }

    NetSocket socket() {
        return socket;
    }

    Timeouts timeouts() {
        return timeouts;
    }

    /** What broke the protocol (or the deadline), null while nothing did. */
    IOException violation() {
        return violation;
    }

    /** Neither closed nor broken: more may be sent. */
    boolean healthy() {
        return !closed && violation == null;
    }

    /** Registers the content being written, failed when the connection breaks mid-way. */
    void writing(Promise<Void> content) {
        writing = content;
    }

    /** Registers the TLS handshake under way (null once it is over), failed by an exception on the socket. */
    void upgrading(Promise<Void> handshake) {
        upgrading = handshake;
    }

    Future<String> command(String line) {
        return commands(List.of(line)).map(r -> r.get(0));
    }

    /**
     * Writes the commands in one packet and collects exactly one reply for each. A line
     * that would end a command early (CR, LF, NUL) is refused before anything is written.
     */
    Future<List<String>> commands(List<String> lines) {
        if (violation != null) {
            return Future.failedFuture(violation);
        }
        StringBuilder out = new StringBuilder();
        for (String l : lines) {
            if (l.indexOf('\r') >= 0 || l.indexOf('\n') >= 0 || l.indexOf(0) >= 0) {
                return Future.failedFuture(new IOException("refusing to send a command with a line break or NUL: "
                        + ReplyReader.printable(l)));
            }
            out.append(l).append("\r\n");
        }
        reader.expect(lines.size());
        socket.write(Buffer.buffer(out.toString().getBytes(StandardCharsets.ISO_8859_1)));
        return replies(lines.size());
    }

    /** The reply to the end of the content, counted only now: a reply before the final dot answers nothing. */
    Future<String> dataEndReply() {
        reader.expect(1);
        return reply(timeouts.dataEnd().toMillis());
    }

    Future<String> reply() {
        return reply(timeouts.reply().toMillis());
    }

    /** The next whole (multi-line) reply, lines joined with CRLF. */
    private Future<String> reply(long timeoutMs) {
        if (!replies.isEmpty()) {
            return Future.succeededFuture(replies.poll());
        }
        if (violation != null) {
            return Future.failedFuture(violation);
        }
        if (closed) {
            return Future.failedFuture(new IOException("connection closed by the peer"));
        }
        waiting = Promise.promise();
        timer = vertx.setTimer(timeoutMs, id -> {
            timer = -1;
            fail(new IOException("no reply within " + timeoutMs / 1000 + " s"));
            socket.close();
        });
        return waiting.future();
    }

    /** The next {@code n} replies (pipelined commands), without deep recursion. */
    private Future<List<String>> replies(int n) {
        Promise<List<String>> done = Promise.promise();
        List<String> out = new ArrayList<>(n);
        Runnable[] next = new Runnable[1];
        next[0] = () -> {
            while (out.size() < n && !replies.isEmpty()) {
                out.add(replies.poll());
            }
            if (out.size() == n) {
                done.complete(out);
                return;
            }
            reply().onSuccess(r -> {
                out.add(r);
                next[0].run();
            }).onFailure(done::fail);
        };
        next[0].run();
        return done.future();
    }

    /**
     * What the socket read: the replies it completes go to their commands in order; a
     * violation in the same read is recorded first, so the step a reply completes sees it
     * (the 220 to STARTTLS with data behind it).
     */
    private void data(Buffer b) {
        ReplyReader.Read read = reader.feed(b.getBytes());
        if (read.violation() != null && violation == null) {
            violation = read.violation();
            socket.close();
        }
        for (String reply : read.replies()) {
            if (waiting != null) {
                Promise<String> w = waiting;
                waiting = null;
                cancelTimer();
                w.complete(reply);
            } else {
                replies.add(reply);
            }
        }
        if (violation != null) {
            fail(violation);
        }
    }

    /** The session cannot go on (deadline): whatever waits fails, the socket closes. */
    private void broken(IOException e) {
        if (violation == null) {
            violation = e;
        }
        fail(e);
        socket.close();
    }

    private void fail(IOException e) {
        cancelTimer();
        if (writing != null) {
            writing.tryFail(e);
        }
        if (waiting != null) {
            Promise<String> w = waiting;
            waiting = null;
            w.tryFail(e);
        }
    }

    private void cancelTimer() {
        if (timer >= 0) {
            vertx.cancelTimer(timer);
            timer = -1;
        }
    }

    /** The use is over: no timer may outlive it. */
    void end() {
        cancelTimer();
        if (deadlineTimer >= 0) {
            vertx.cancelTimer(deadlineTimer);
            deadlineTimer = -1;
        }
    }
}
