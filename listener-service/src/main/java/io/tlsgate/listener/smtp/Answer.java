package io.tlsgate.listener.smtp;

import io.netty.buffer.ByteBufAllocator;
import java.util.concurrent.CompletionStage;
import java.util.function.BiFunction;
import java.util.function.Function;
import javax.net.ssl.SSLEngine;

/**
 * What a command handler answers: a reply now, a reply once something another service (or DNS)
 * answers, or the start of TLS. Handlers only decide; {@link SmtpSession} writes, waits and
 * closes.
 */
sealed interface Answer {

    /** What follows a reply. */
    enum Then {
        /** the next command */
        READ,
        /** nothing: the connection ends after the reply */
        CLOSE,
        /** message content, up to the end-of-data line */
        DATA
    }

    /**
     * Reply lines (CRLF between lines, none after the last; null: close without a word); an
     * error counts towards the session's error limit.
     */
    record Say(String text, boolean error, Then then) implements Answer {}

    /**
     * The answer once {@code value} completes: {@code then} runs on the session's event loop,
     * only while the session is still open unless {@code evenIfGone} (a commit must be logged
     * even when the client has left). The session reads no further command meanwhile.
     */
    record Later<T>(CompletionStage<T> value, BiFunction<T, Throwable, Answer> then, boolean evenIfGone) implements Answer {}

    /**
     * {@code 220 Ready to start TLS}, then the handshake with an engine made with the
     * connection's allocator; unless the client already sent more (see
     * {@link StartTlsHandler#injected}).
     */
    record StartTls(Function<ByteBufAllocator, SSLEngine> engine, long handshakeTimeoutMillis) implements Answer {}

    /** A reply; a 421 (or QUIT's 221, a bare-newline 550) ends the session. */
    static Say reply(Reply r, Object... args) {
        return new Say(r.text(args), false, r.closes() ? Then.CLOSE : Then.READ);
    }

    /** A reply to a command that was wrong (counted). */
    static Say error(Reply r, Object... args) {
        return new Say(r.text(args), true, r.closes() ? Then.CLOSE : Then.READ);
    }

    /** A last reply, whatever its code. */
    static Say closing(Reply r, Object... args) {
        return new Say(r.text(args), false, Then.CLOSE);
    }

    /** Close at once, without a reply (TCPREFUSE). */
    static Say hangUp() {
        return new Say(null, false, Then.CLOSE);
    }

    static <T> Later<T> later(CompletionStage<T> value, BiFunction<T, Throwable, Answer> then) {
        return new Later<>(value, then, false);
    }
}
