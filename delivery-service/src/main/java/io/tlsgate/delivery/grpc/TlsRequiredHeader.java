package io.tlsgate.delivery.grpc;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Looks for {@code TLS-Required: No} (RFC 8689 §5) in a message's header section as its
 * content streams in: the bytes up to the first empty line (at most {@link #LIMIT}; a header
 * section longer than that is not searched further), fields unfolded, the name and the value
 * compared without regard to case.
 */
final class TlsRequiredHeader {

    static final int LIMIT = 256 * 1024;

    /** The header section so far ({@code length} bytes), searched for its end only where new bytes came. */
    private byte[] header = new byte[1024];
    private int length;
    private boolean complete;

    /** The next piece of content (not copied once the header section is complete). */
    void feed(com.google.protobuf.ByteString piece) {
        if (complete) {
            return;
        }
        int take = Math.min(LIMIT - length, piece.size());
        if (length + take > header.length) {
            header = java.util.Arrays.copyOf(header, Math.max(header.length * 2, length + take));
        }
        piece.copyTo(header, 0, length, take);
        int from = Math.max(0, length - 3);
        length += take;
        int end = endOfHeader(header, from, length);
        if (end >= 0) {
            length = end;
            complete = true;
        } else if (length >= LIMIT) {
            complete = true;
        }
    }

    /** Whether the header section has a {@code TLS-Required} field whose value is {@code No}. */
    boolean no() {
        String text = new String(header, 0, length, StandardCharsets.ISO_8859_1).replaceAll("\r?\n[ \t]+", " ");
        for (String line : text.split("\r?\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("TLS-Required")
                    && line.substring(colon + 1).trim().toLowerCase(Locale.ROOT).equals("no")) {
                return true;
            }
        }
        return false;
    }

    /** Where the header section ends (the index of its empty line) in {@code b[from..to)}, or -1. */
    private static int endOfHeader(byte[] b, int from, int to) {
        if (from == 0 && to >= 2 && b[0] == '\r' && b[1] == '\n') {
            return 0;
        }
        for (int i = from; i + 3 < to; i++) {
            if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
                return i + 2;
            }
        }
        return -1;
    }
}
