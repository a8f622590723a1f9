package io.tlsgate.delivery.grpc;

import java.io.ByteArrayOutputStream;
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

    private final ByteArrayOutputStream header = new ByteArrayOutputStream();
    private boolean complete;

    /** The next piece of content. */
    void feed(byte[] piece) {
        if (complete) {
            return;
        }
        int room = LIMIT - header.size();
        header.write(piece, 0, Math.min(room, piece.length));
        byte[] seen = header.toByteArray();
        int end = endOfHeader(seen);
        if (end >= 0 || header.size() >= LIMIT) {
            complete = true;
            if (end >= 0) {
                header.reset();
                header.write(seen, 0, end);
            }
        }
    }

    /** Whether the header section has a {@code TLS-Required} field whose value is {@code No}. */
    boolean no() {
        String text = header.toString(StandardCharsets.ISO_8859_1).replaceAll("\r?\n[ \t]+", " ");
        for (String line : text.split("\r?\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("TLS-Required")
                    && line.substring(colon + 1).trim().toLowerCase(Locale.ROOT).equals("no")) {
                return true;
            }
        }
        return false;
    }

    /** Where the header section ends (the index of its empty line), or -1. */
    private static int endOfHeader(byte[] b) {
        if (b.length >= 2 && b[0] == '\r' && b[1] == '\n') {
            return 0;
        }
        for (int i = 0; i + 3 < b.length; i++) {
            if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
                return i + 2;
            }
        }
        return -1;
    }
}
