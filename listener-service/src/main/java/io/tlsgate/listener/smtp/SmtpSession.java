package io.tlsgate.listener.smtp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateEvent;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * One inbound SMTP connection (RFC 5321, RFC 3207, RFC 2920) on its event loop: the Netty side
 * of a session. The {@link SmtpFramer} hands it one command (or piece of content) at a time;
 * the handlers of {@link SmtpProtocol} decide on the {@link SessionState}; this class writes
 * their replies, waits for their lookups with the framer paused (no thread waits), starts TLS,
 * and closes. Every line of the mail log is written as it happens ({@link MailLog}); one TLS
 * outcome event is published when a greeted connection ends.
 *
 * <p>What is enforced, in order: the listener's and the client's connection limits
 * ({@link SmtpServers.Admission}); the host access table; the mail flow policy's TLS setting;
 * the recipient access table for clients that may not relay; size, recipient and message
 * limits; no bare LF or CR (550 5.5.2, or normalized: see {@link SmtpFramer}); ASCII addresses
 * only. A message is answered 250 only after delivery-service committed it.
 */
public final class SmtpSession extends ChannelInboundHandlerAdapter implements SmtpFramer.Sink {

    /** A client that does not read its last reply is cut off after this long. */
    private static final int LINGER_SECONDS = 10;

    private final SmtpProtocol protocol;
    private final SmtpServers.Admission admission;
    private final long icid;
    private final io.tlsgate.proto.policy.v1.Listener listener;
    private SessionState s;
    private ChannelHandlerContext ctx;
    private SmtpFramer framer;
    private boolean admitted;
    private ScheduledFuture<?> sessionTimer;
    private boolean closedOnPurpose;
    private boolean closing;

    SmtpSession(SmtpProtocol protocol, io.tlsgate.proto.policy.v1.Listener listener, SmtpServers.Admission admission, long icid) {
        this.protocol = protocol;
        this.listener = listener;
        this.admission = admission;
        this.icid = icid;
    }

    // ---- connection lifecycle

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.framer = ctx.pipeline().get(SmtpFramer.class);
        framer.pause();
        InetSocketAddress remote = (InetSocketAddress) ctx.channel().remoteAddress();
        InetSocketAddress local = (InetSocketAddress) ctx.channel().localAddress();
        s = new SessionState(icid, listener, remote.getAddress().getHostAddress(), remote.getPort(),
                local.getAddress().getHostAddress());
        Reply refused = admission.admit(s.ip);
        if (refused != null) {
            MailLog.refused(s, refused == Reply.TOO_MANY_CONNECTIONS);
            act(Answer.closing(refused, listener.getHostname(), s.ip));
            return;
        }
        admitted = true;
        sessionTimer = ctx.executor().schedule(() -> act(Answer.closing(Reply.SESSION_TIMEOUT, listener.getHostname())),
                protocol.settings().sessionTimeout().toMillis(), TimeUnit.MILLISECONDS);
        if (act(protocol.greeting().connect(s, remote.getAddress()))) {
            framer.resume();
        }
    }

    /** The service is stopping: 421 and close (a message not yet answered 250 is not queued; the client retries). */
    void shutdown() {
        if (s != null) {
            DataHandler.abandon(s, "listener-service stopping");
        }
        act(Answer.closing(Reply.SHUTTING_DOWN, listener.getHostname()));
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (sessionTimer != null) {
            sessionTimer.cancel(false);
        }
        if (s == null) {
            return;
        }
        DataHandler.abandon(s, "client disconnected during DATA");
        if (!admitted) {
            return;
        }
        admission.release(s.ip);
        if (framer.commandBareLf() + framer.commandBareCr() > 0) {
            MailLog.commandsNormalized(s, framer.commandBareLf(), framer.commandBareCr());
        }
        if (s.phase == SessionState.Phase.OPEN) {
            protocol.upstream().publish(StartTlsHandler.outcome(s, Instant.now()));
        }
        MailLog.ended(s, closedOnPurpose);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent hs) {
            if (hs.isSuccess()) {
                StartTlsHandler.established(s, ctx.pipeline().get(SslHandler.class).engine().getSession());
            } else {
                StartTlsHandler.failed(s, hs.cause());
                closedOnPurpose = true;
                ctx.close();
            }
        } else if (evt instanceof IdleStateEvent) {
            // Idle means the client is silent while it is its turn; while this session waits for
            // another service (which has its own deadline), the client is not to blame.
            if (!framer.paused()) {
                act(Answer.closing(Reply.IDLE_TIMEOUT, listener.getHostname()));
            }
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Garbage, resets, TLS alerts: this connection ends, nothing else is affected.
        MailLog.LOG.debugf("ICID %d: %s", icid, cause.toString());
        if (s != null && s.tls.started && !s.tls.active && s.tls.failure == null) {
            StartTlsHandler.failed(s, cause);
        } else if (s != null && s.tls.active && !closing && StartTlsHandler.renegotiationRefused(cause)) {
            // BoringSSL, or JSSE with jdk.tls.rejectClientInitiatedRenegotiation=true (see TlsRenegotiation), refused it with an alert.
            closedOnPurpose = true;
            MailLog.renegotiationRefused(s);
        }
        ctx.close();
    }

    // ---- framed input

    @Override
    public boolean line(String line) {
        return act(protocol.commands().command(s, line));
    }

    @Override
    public boolean lineTooLong() {
        return act(Answer.error(Reply.LINE_TOO_LONG));
    }

    /** tlsgate.listener.bare-newline=reject: 550 and close; a message in progress is abandoned (not queued). */
    @Override
    public void bareNewline(boolean lf, boolean inContent) {
        String what = lf ? "<LF>" : "<CR>";
        boolean abandoned = inContent && s.incoming != null;
        DataHandler.abandon(s, "bare " + what + " in the message content");
        MailLog.bareNewline(s, what, abandoned);
        s.resetTransaction();
        act(Answer.closing(lf ? Reply.BARE_LF : Reply.BARE_CR));
    }

    @Override
    public boolean data(ByteBuf content) {
        return protocol.data().content(s, content);
    }

    @Override
    public boolean endOfData() {
        return act(protocol.data().end(s, framer.dataBareLf(), framer.dataBareCr()));
    }

    /** The gRPC stream of the message takes data again (or failed): go on reading the content. */
    private void streamReady() {
        DataHandler.Incoming m = s.incoming;
        if (m != null && m.waitingForStream && (!m.call.backedUp() || m.call.failed())) {
            m.waitingForStream = false;
            framer.resume();
        }
    }

    // ---- answers

    /** Carries out a handler's answer; false when the framer must wait (a lookup, or the end). */
    private boolean act(Answer a) {
        if (a instanceof Answer.Say say) {
            return say(say);
        }
        if (a instanceof Answer.Later<?> later) {
            await(later);
            return false;
        }
        if (a instanceof Answer.StartTls tls) {
            return startTls(tls);
        }
        throw new IllegalStateException("unknown answer " + a);
    }

    private boolean say(Answer.Say say) {
        if (say.then() == Answer.Then.CLOSE) {
            closeWith(say.text());
            return false;
        }
        if (!closing) {
            ctx.write(bytes(say.text()));
        }
        if (say.error() && ++s.errors >= protocol.settings().maxErrors() && !closing) {
            MailLog.tooManyErrors(s);
            closeWith(Reply.TOO_MANY_ERRORS.text(listener.getHostname()));
            return false;
        }
        if (say.then() == Answer.Then.DATA) {
            s.incoming.call.onReady(() -> ctx.executor().execute(this::streamReady));
            framer.dataMode();
        }
        return true;
    }

    /**
     * Waits (with the framer paused) for a lookup; its answer is carried out on the event loop,
     * only while the session is still going (unless the answer must be logged anyway), and an
     * unexpected exception ends the session with 421 instead of leaving it paused forever.
     */
    private <T> void await(Answer.Later<T> later) {
        BiConsumer<T, Throwable> then = (value, failed) -> {
            if (!later.evenIfGone() && (closing || !ctx.channel().isActive())) {
                return;
            }
            try {
                if (act(later.then().apply(value, failed))) {
                    framer.resume();
                }
            } catch (RuntimeException e) {
                MailLog.LOG.errorf(e, "ICID %d: internal error", icid);
                closeWith(Reply.INTERNAL_ERROR.text(listener.getHostname()));
            }
        };
        later.value().whenCompleteAsync(then, ctx.executor());
    }

    private boolean startTls(Answer.StartTls tls) {
        int pipelined = framer.buffered();
        if (pipelined > 0) {
            return act(StartTlsHandler.injected(s, pipelined));
        }
        SslHandler handler = new SslHandler(tls.engine().apply(ctx.alloc()), true);
        handler.setHandshakeTimeoutMillis(tls.handshakeTimeoutMillis());
        ctx.pipeline().addBefore(ctx.pipeline().context(framer).name(), "tls", handler);
        ctx.writeAndFlush(bytes(Reply.READY_FOR_TLS.text()));
        return true;
    }

    /**
     * The last reply (none when null), then close. Nothing more is read or answered; a client
     * that does not read (so the reply cannot be written) is cut off after {@link #LINGER_SECONDS}.
     */
    private void closeWith(String text) {
        if (closing) {
            return;
        }
        closing = true;
        closedOnPurpose = true;
        if (framer != null) {
            framer.stop();
        }
        if (text == null) {
            ctx.close();
        } else if (ctx.channel().isActive()) {
            ctx.writeAndFlush(bytes(text)).addListener(ChannelFutureListener.CLOSE);
            ctx.executor().schedule(() -> {
                ctx.close();
            }, LINGER_SECONDS, TimeUnit.SECONDS);
        }
    }

    private ByteBuf bytes(String text) {
        ByteBuf b = ctx.alloc().buffer(text.length() + 2);
        ByteBufUtil.writeUtf8(b, text);
        return b.writeByte('\r').writeByte('\n');
    }
}
