package io.tlsgate.delivery.smtp;

import io.vertx.core.buffer.Buffer;

/**
 * A message's content as it goes on the wire after DATA: every line ending written as CRLF,
 * dot-stuffing at every line start (RFC 5321 §4.5.2), and the final {@code CRLF.CRLF}, in
 * buffers of about 64 KiB cut straight from the content, one at a time (no second copy of
 * the whole message).
 *
 * <p>Security-sensitive: whatever the stored bytes are, the peer must see exactly one message.
 * A bare LF or a bare CR counts as a line ending and is written as CRLF, so a lenient peer
 * that also takes them as line endings (SMTP smuggling: {@code <LF>.<LF>} followed by
 * commands) and a strict one that only takes CRLF read the same lines, and a dot at the start
 * of any of them is doubled.
 */
final class DotStuffer {
    private static final int PIECE = 65_536;

    private final byte[] data;
    private int pos;
    private boolean lineStart = true;
    /** The previous byte was a CR, already written as CRLF: an LF right after it is that same line end. */
    private boolean afterCr;
    private boolean done;

    DotStuffer(byte[] data) {
        this.data = data;
    }

    /** The next piece; null after the final dot. */
    Buffer next() {
        if (done) {
            return null;
        }
        Buffer chunk = Buffer.buffer(Math.min(data.length - pos + 8, PIECE + 64));
        while (pos < data.length && chunk.length() < PIECE) {
            byte c = data[pos++];
            if (c == '\r' || c == '\n') {
                if (!(c == '\n' && afterCr)) {
                    chunk.appendByte((byte) '\r').appendByte((byte) '\n');
                }
                afterCr = c == '\r';
                lineStart = true;
                continue;
            }
            afterCr = false;
            if (lineStart && c == '.') {
                chunk.appendByte((byte) '.');
            }
            chunk.appendByte(c);
            lineStart = false;
        }
        if (pos == data.length) {
            if (!lineStart) {
                chunk.appendString("\r\n");
            }
            chunk.appendString(".\r\n");
            done = true;
        }
        return chunk;
    }
}
