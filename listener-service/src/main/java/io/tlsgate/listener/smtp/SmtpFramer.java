package io.tlsgate.listener.smtp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.charset.StandardCharsets;

/**
 * Cuts the client's bytes into SMTP commands and message content, on the connection's event
 * loop, without ever holding more than one command line (plus one read) in memory.
 *
 * <p>Command mode: lines end at LF (a CR before it is dropped); a line longer than the limit
 * is discarded as it arrives and reported once with {@link Sink#lineTooLong()}. Data mode
 * (after {@code 354}): the content is passed on unstuffed (RFC 5321 §4.5.2) until the line
 * {@code .} between two CRLFs; only CRLF.CRLF ends it, so a bare-LF dot cannot smuggle a second
 * message in (the "SMTP smuggling" attack).
 *
 * <p>The {@link Sink} handles one item at a time: returning {@code false} pauses framing (and
 * reading from the socket) until it calls {@link #resume()}: this is how a command that waits
 * for policy-service or delivery-service holds back the commands pipelined after it.
 */
public final class SmtpFramer extends ChannelInboundHandlerAdapter {

    /** Where framed input goes. Every call happens on the connection's event loop. */
    public interface Sink {
        /** A command line without its line end; false pauses framing. */
        boolean line(String line);

        /** A command line over the limit was discarded. */
        boolean lineTooLong();

        /** The next piece of unstuffed content (the sink owns and releases it); false pauses. */
        boolean data(ByteBuf content);

        /** The end-of-data line arrived; the framer is back in command mode. False pauses. */
        boolean endOfData();
    }

    private static final int LINE_START = 0;
    private static final int TEXT = 1;
    private static final int CR = 2;
    private static final int DOT = 3;
    private static final int DOT_CR = 4;

    private final int maxLine;
    private final Sink sink;
    private ChannelHandlerContext ctx;
    private ByteBuf buf;
    private boolean data;
    private int dataState;
    private boolean paused;
    private boolean writeBlocked;
    private boolean stopped;
    private boolean discarding;
    private boolean draining;

    public SmtpFramer(int maxLine, Sink sink) {
        this.maxLine = maxLine;
        this.sink = sink;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        buf = ctx.alloc().buffer(256);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (buf != null) {
            buf.release();
            buf = null;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf in = (ByteBuf) msg;
        try {
            if (buf != null) {
                buf.writeBytes(in);
            }
        } finally {
            in.release();
        }
        drain();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
        ctx.fireChannelReadComplete();
    }

    /** Content follows: frame it as message data until the end-of-data line. */
    public void dataMode() {
        data = true;
        dataState = LINE_START;
    }

    /** Bytes received but not yet framed (pipelined input). */
    public int buffered() {
        return buf == null ? 0 : buf.readableBytes();
    }

    /** Whether framing waits for {@link #resume()} (the session waits for another service, not for the client). */
    public boolean paused() {
        return paused;
    }

    /** Stops framing and reading until {@link #resume()}. */
    public void pause() {
        paused = true;
        ctx.channel().config().setAutoRead(false);
    }

    /** Stops for good: the session is ending; nothing more is framed, whatever comes. */
    public void stop() {
        stopped = true;
        pause();
    }

    /** Goes on with what is buffered, then reads from the socket again. Call on the event loop. */
    public void resume() {
        if (!paused || stopped) {
            return;
        }
        paused = false;
        proceed();
    }

    /**
     * Replies pile up in the outbound buffer when a client pipelines commands but does not read
     * the answers: then framing stops until the buffer drains below its low-water mark.
     */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && writeBlocked) {
            writeBlocked = false;
            proceed();
        }
        ctx.fireChannelWritabilityChanged();
    }

    private void proceed() {
        drain();
        if (!paused && !writeBlocked && !stopped && ctx.channel().isActive()) {
            ctx.channel().config().setAutoRead(true);
            ctx.read();
        }
        ctx.flush();
    }

    private void drain() {
        if (draining || stopped) {
            return; // a sink call resumed us synchronously: the loop below goes on by itself
        }
        draining = true;
        try {
            while (!paused && !stopped && buf != null && buf.isReadable() && ctx.channel().isActive()) {
                if (!ctx.channel().isWritable()) {
                    writeBlocked = true;
                    ctx.channel().config().setAutoRead(false);
                    break;
                }
                if (!(data ? frameData() : frameLine())) {
                    break; // paused, or not enough input for a whole line yet
                }
            }
            if (buf != null) {
                buf.discardSomeReadBytes();
            }
        } finally {
            draining = false;
        }
    }

    /** Frames one line; false when it needs more input or the sink paused. */
    private boolean frameLine() {
        int start = buf.readerIndex();
        int searchable = Math.min(buf.readableBytes(), maxLine);
        int lf = buf.indexOf(start, start + searchable, (byte) '\n');
        if (discarding) {
            int end = buf.indexOf(start, buf.writerIndex(), (byte) '\n');
            if (end < 0) {
                buf.skipBytes(buf.readableBytes());
                return false;
            }
            buf.readerIndex(end + 1);
            discarding = false;
            return keepGoing(sink.lineTooLong());
        }
        if (lf < 0) {
            if (buf.readableBytes() >= maxLine) {
                discarding = true; // drop it up to its end, which may already be here
                return frameLine();
            }
            return false;
        }
        int end = lf > start && buf.getByte(lf - 1) == '\r' ? lf - 1 : lf;
        String line = buf.toString(start, end - start, StandardCharsets.UTF_8);
        buf.readerIndex(lf + 1);
        return keepGoing(sink.line(line));
    }

    private boolean keepGoing(boolean go) {
        if (!go) {
            pause();
        }
        return go;
    }

    /** Frames the buffered content; false when it is used up or the sink paused. */
    private boolean frameData() {
        ByteBuf out = ctx.alloc().buffer(buf.readableBytes());
        boolean end = false;
        while (buf.isReadable() && !end) {
            byte b = buf.readByte();
            switch (dataState) {
                case LINE_START -> {
                    if (b == '.') {
                        dataState = DOT;
                    } else {
                        out.writeByte(b);
                        dataState = b == '\r' ? CR : TEXT;
                    }
                }
                case TEXT -> {
                    out.writeByte(b);
                    if (b == '\r') {
                        dataState = CR;
                    }
                }
                case CR -> {
                    out.writeByte(b);
                    dataState = b == '\n' ? LINE_START : b == '\r' ? CR : TEXT;
                }
                case DOT -> {
                    if (b == '\r') {
                        dataState = DOT_CR;
                    } else {
                        out.writeByte(b); // the leading dot of a stuffed line is dropped
                        dataState = TEXT;
                    }
                }
                default -> { // DOT_CR
                    if (b == '\n') {
                        end = true;
                    } else {
                        out.writeByte('\r');
                        out.writeByte(b);
                        dataState = b == '\r' ? CR : TEXT;
                    }
                }
            }
        }
        boolean go = true;
        if (out.isReadable()) {
            go = sink.data(out);
        } else {
            out.release();
        }
        if (end) {
            data = false;
            go = sink.endOfData() && go;
        }
        return keepGoing(go) && buf.isReadable();
    }
}
