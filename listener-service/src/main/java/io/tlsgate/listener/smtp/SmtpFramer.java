package io.tlsgate.listener.smtp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ByteProcessor;
import io.tlsgate.listener.ListenerConfig;
import java.nio.charset.StandardCharsets;

/**
 * Cuts the client's bytes into SMTP commands and message content, on the connection's event
 * loop, without ever holding more than one command line (plus one read) in memory.
 *
 * <p>Command mode: lines end at CRLF; a line longer than the limit is discarded as it arrives
 * and reported once with {@link Sink#lineTooLong()}. Data mode (after {@code 354}): the content
 * is passed on unstuffed (RFC 5321 §4.5.2) until the line {@code .} between two CRLFs.
 *
 * <p>A bare LF or bare CR (one not part of a CRLF), in either mode, is what "SMTP smuggling"
 * uses: a lenient server downstream may read {@code <LF>.<LF>} as the end of a message and
 * what follows as a second one. {@link ListenerConfig.BareNewline#REJECT} reports the first
 * one to {@link Sink#bareNewline} and frames nothing more (the session answers 550 and
 * closes). {@link ListenerConfig.BareNewline#NORMALIZE} turns each into CRLF, in commands and
 * content, with two exceptions in content: only an exact CRLF.CRLF ends the message, and a
 * lone {@code .} line that is not that end (one that begins or ends at a bare newline) keeps
 * its dot. The content handed on then has CRLF line ends only, and a lone-dot line in it is
 * dot-stuffed by any correct sender downstream, so it stays content there too. A CR at the end
 * of a read waits for the next byte before anything is decided.
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

        /**
         * A bare LF ({@code lf}) or bare CR arrived, in message content ({@code inData}) or a
         * command line, and the framer rejects them: it has stopped for good. The command line
         * it ended was not handed on; content from earlier reads of the message may have been,
         * so a message in progress must be abandoned.
         */
        void bareNewline(boolean lf, boolean inData);
    }

    private final int maxLine;
    private final boolean normalize;
    private final Sink sink;
    private ChannelHandlerContext ctx;
    private ByteBuf buf;
    private final ContentFramer content;
    private boolean data;
    /** While discarding an over-long line: its last byte was a CR. */
    private boolean discardCr;
    private int commandBareLf;
    private int commandBareCr;
    private boolean paused;
    private boolean writeBlocked;
    private boolean stopped;
    private boolean discarding;
    private boolean draining;

    public SmtpFramer(int maxLine, ListenerConfig.BareNewline bareNewline, Sink sink) {
        this.maxLine = maxLine;
        this.normalize = bareNewline == ListenerConfig.BareNewline.NORMALIZE;
        this.content = new ContentFramer(normalize);
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
        content.start();
    }

    /** Bare LFs turned into CRLF in command lines so far (normalize only). */
    public int commandBareLf() {
        return commandBareLf;
    }

    /** Bare CRs turned into CRLF in command lines so far (normalize only). */
    public int commandBareCr() {
        return commandBareCr;
    }

    /** Bare LFs turned into CRLF in the content since the last {@link #dataMode()} (normalize only). */
    public int dataBareLf() {
        return content.bareLf();
    }

    /** Bare CRs turned into CRLF in the content since the last {@link #dataMode()} (normalize only). */
    public int dataBareCr() {
        return content.bareCr();
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

    /** Frames one line; false when it needs more input, the sink paused, or framing stopped. */
    private boolean frameLine() {
        if (discarding) {
            return discardLine();
        }
        int start = buf.readerIndex();
        int searchable = Math.min(buf.readableBytes(), maxLine);
        int at = buf.forEachByte(start, searchable, ByteProcessor.FIND_CRLF);
        if (at >= 0) {
            if (buf.getByte(at) == '\n') { // no CR right before it, or the CR would have been found first
                return bare(true) && line(start, at, at + 1);
            }
            if (at + 1 == buf.writerIndex()) {
                return false; // CRLF or a bare CR: the next read tells
            }
            if (buf.getByte(at + 1) != '\n') {
                return bare(false) && line(start, at, at + 1);
            }
            if (at + 1 < start + searchable) {
                return line(start, at, at + 2);
            }
            // the LF is one octet past the limit: the line is too long
        } else if (buf.readableBytes() < maxLine) {
            return false;
        }
        discarding = true; // drop it up to its end, which may already be here
        discardCr = false;
        return discardLine();
    }

    private boolean line(int start, int end, int next) {
        String line = buf.toString(start, end - start, StandardCharsets.UTF_8);
        buf.readerIndex(next);
        return keepGoing(sink.line(line));
    }

    /** Drops an over-long line up to its end (CRLF, or a bare LF/CR, which is handled as anywhere else). */
    private boolean discardLine() {
        while (buf.isReadable()) {
            if (discardCr) {
                discardCr = false;
                if (buf.getByte(buf.readerIndex()) == '\n') {
                    buf.skipBytes(1);
                } else if (!bare(false)) {
                    return false;
                }
                discarding = false;
                return keepGoing(sink.lineTooLong());
            }
            int at = buf.forEachByte(ByteProcessor.FIND_CRLF);
            if (at < 0) {
                buf.skipBytes(buf.readableBytes());
                return false;
            }
            buf.readerIndex(at + 1);
            if (buf.getByte(at) == '\r') {
                discardCr = true;
            } else {
                if (!bare(true)) {
                    return false;
                }
                discarding = false;
                return keepGoing(sink.lineTooLong());
            }
        }
        return false;
    }

    /**
     * A bare LF or CR in a command line: counted when normalized (true: go on as if it were
     * CRLF), else reported and framing stops (false).
     */
    private boolean bare(boolean lf) {
        if (normalize) {
            if (lf) {
                commandBareLf++;
            } else {
                commandBareCr++;
            }
            return true;
        }
        reject(lf, false);
        return false;
    }

    private void reject(boolean lf, boolean inData) {
        stop();
        sink.bareNewline(lf, inData);
    }

    private boolean keepGoing(boolean go) {
        if (!go) {
            pause();
        }
        return go;
    }

    /** Frames the buffered content; false when it is used up, the sink paused, or framing stopped. */
    private boolean frameData() {
        ByteBuf out = ctx.alloc().buffer(buf.readableBytes() + 16);
        ContentFramer.Stop stop = content.frame(buf, out);
        if (stop == ContentFramer.Stop.BARE_LF || stop == ContentFramer.Stop.BARE_CR) {
            out.release();
            reject(stop == ContentFramer.Stop.BARE_LF, true);
            return false;
        }
        boolean go = true;
        if (out.isReadable()) {
            go = sink.data(out);
        } else {
            out.release();
        }
        if (stop == ContentFramer.Stop.END) {
            data = false;
            go = sink.endOfData() && go;
        }
        return keepGoing(go) && buf.isReadable();
    }
}
