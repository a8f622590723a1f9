package io.tlsgate.delivery.smtp;

import io.netty.buffer.Unpooled;
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

    /** The next piece (up to {@value #PIECE} bytes of content, at most twice that on the wire); null after the final dot. */
    Buffer next() {
        if (done) {
            return null;
        }
        int limit = Math.min(data.length, pos + PIECE);
        // Every byte may become two (a bare LF written as CRLF, a dot doubled), plus the end.
        byte[] out = new byte[2 * (limit - pos) + 5];
        int n = 0;
        while (pos < limit) {
            byte c = data[pos];
            if (c == '\r' || c == '\n') {
                if (!(c == '\n' && afterCr)) {
                    out[n++] = '\r';
                    out[n++] = '\n';
                }
                afterCr = c == '\r';
                lineStart = true;
                pos++;
                continue;
            }
            afterCr = false;
            if (lineStart && c == '.') {
                out[n++] = '.';
            }
            lineStart = false;
            // The rest of the line as it is, in one copy.
            int end = pos;
            while (end < limit && data[end] != '\r' && data[end] != '\n') {
                end++;
            }
            System.arraycopy(data, pos, out, n, end - pos);
            n += end - pos;
            pos = end;
        }
        if (pos == data.length) {
            if (!lineStart) {
                out[n++] = '\r';
                out[n++] = '\n';
            }
            out[n++] = '.';
            out[n++] = '\r';
            out[n++] = '\n';
            done = true;
        }
        return Buffer.buffer(Unpooled.wrappedBuffer(out, 0, n));
    }
}
