package io.tlsgate.listener.smtp;

import io.netty.buffer.ByteBuf;
import io.netty.util.ByteProcessor;

/**
 * {@link SmtpFramer}'s data mode: unstuffs message content (RFC 5321 §4.5.2) up to the line
 * {@code .} between two CRLFs, and finds bare LFs and bare CRs in it (normalized to CRLF, or
 * reported; the rules are {@link SmtpFramer}'s). Holds its state between reads, so a CR or a
 * dot at the end of one read is decided by the next.
 */
final class ContentFramer {

    /** Why {@link #frame} returned. */
    enum Stop {
        /** The input is used up: more content is to come. */
        MORE,
        /** The end-of-data line was read (and consumed). */
        END,
        /** A bare LF was found and bare newlines are rejected. */
        BARE_LF,
        /** A bare CR was found and bare newlines are rejected. */
        BARE_CR
    }

    private static final int LINE_START = 0;
    private static final int TEXT = 1;
    private static final int CR = 2;
    private static final int DOT = 3;
    private static final int DOT_CR = 4;

    private static final byte[] CRLF = {'\r', '\n'};
    private static final byte[] DOT_CRLF = {'.', '\r', '\n'};

    private final boolean normalize;
    private int dataState;
    /** Whether the content line now starting follows a real CRLF (or the 354): only there does "." CRLF end the data. */
    private boolean afterCrlf;
    private int dataBareLf;
    private int dataBareCr;

    ContentFramer(boolean normalize) {
        this.normalize = normalize;
    }

    /** A message's content starts (after the 354). */
    void start() {
        dataState = LINE_START;
        afterCrlf = true;
        dataBareLf = 0;
        dataBareCr = 0;
    }

    /** Bare LFs turned into CRLF since {@link #start()} (normalize only). */
    int bareLf() {
        return dataBareLf;
    }

    /** Bare CRs turned into CRLF since {@link #start()} (normalize only). */
    int bareCr() {
        return dataBareCr;
    }

    /** Moves the unstuffed content of {@code buf} to {@code out} until the input is used up, the content ends, or a bare newline is rejected. */
    Stop frame(ByteBuf buf, ByteBuf out) {
        boolean end = false;
        while (buf.isReadable() && !end) {
            if (dataState == TEXT) {
                // Inside a line nothing but CR and LF matters: copy up to the next one at once.
                int from = buf.readerIndex();
                int at = buf.forEachByte(from, buf.readableBytes(), ByteProcessor.FIND_CRLF);
                int run = (at < 0 ? buf.writerIndex() : at) - from;
                if (run > 0) {
                    out.writeBytes(buf, from, run);
                    buf.skipBytes(run);
                    continue;
                }
            }
            byte b = buf.getByte(buf.readerIndex());
            boolean consumed = true;
            // A bare newline: LF outside CR, or CR followed by anything but LF (that byte is then
            // looked at again, as the first of the next line).
            boolean bareLf = false;
            boolean bareCr = false;
            switch (dataState) {
                case LINE_START -> {
                    if (b == '.') {
                        dataState = DOT;
                    } else if (b == '\r') {
                        dataState = CR;
                    } else if (b == '\n') {
                        bareLf = true;
                        out.writeBytes(CRLF);
                    } else {
                        out.writeByte(b);
                        dataState = TEXT;
                    }
                }
                case TEXT -> {
                    if (b == '\r') {
                        dataState = CR;
                    } else if (b == '\n') {
                        bareLf = true;
                        out.writeBytes(CRLF);
                    } else {
                        out.writeByte(b);
                    }
                }
                case CR -> {
                    out.writeBytes(CRLF);
                    if (b == '\n') {
                        dataState = LINE_START;
                        afterCrlf = true;
                    } else {
                        bareCr = true;
                        consumed = false;
                    }
                }
                case DOT -> {
                    if (b == '\r') {
                        dataState = DOT_CR;
                    } else if (b == '\n') {
                        bareLf = true;
                        out.writeBytes(DOT_CRLF); // a lone dot, ended by a bare LF: content, dot kept
                    } else {
                        out.writeByte(b); // the leading dot of a stuffed line is dropped
                        dataState = TEXT;
                    }
                }
                default -> { // DOT_CR
                    if (b == '\n' && afterCrlf) {
                        end = true;
                    } else {
                        out.writeBytes(DOT_CRLF); // a lone dot after a bare newline, or before a bare CR: content
                        if (b == '\n') {
                            dataState = LINE_START;
                            afterCrlf = true;
                        } else {
                            bareCr = true;
                            consumed = false;
                        }
                    }
                }
            }
            if (bareLf || bareCr) {
                if (!normalize) {
                    return bareLf ? Stop.BARE_LF : Stop.BARE_CR;
                }
                if (bareLf) {
                    dataBareLf++;
                } else {
                    dataBareCr++;
                }
                dataState = LINE_START;
                afterCrlf = false;
            }
            if (consumed) {
                buf.skipBytes(1);
            }
        }
        return end ? Stop.END : Stop.MORE;
    }
}
