package io.tlsgate.delivery.smtp;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a remote SMTP server's replies with strict accounting: the client says how many
 * replies it is owed ({@link #expect}) each time it sends commands, and every byte from the
 * server must belong to one of those replies. Anything else is a {@link ProtocolViolation}:
 * bytes with no reply owed (a reply nobody asked for, plaintext left over after the
 * {@code 220} to STARTTLS: RFC 3207 §4.2 and the CVE-2011-0411 class of bugs), a line that is
 * not a reply (RFC 5321 §4.2), a multi-line reply whose lines disagree on the code, or a
 * reply over the size caps (a hostile peer streaming {@code 250-} lines must not grow the
 * heap). Pure logic, no I/O: the session feeds it what the socket read.
 *
 * <p>A chunk is parsed whole before any reply is handed out, so a reply can never be taken
 * as the answer to a command that was sent only after the chunk arrived, and the session
 * knows of a violation in a chunk before it acts on the replies in front of it.
 */
final class ReplyReader {

    /** RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; four times that, for headroom. */
    static final int MAX_LINE = 2048;
    /** Lines in one multi-line reply (an EHLO reply has a few dozen at most). */
    static final int MAX_LINES = 100;
    /** Octets in one reply, all lines together. */
    static final int MAX_REPLY = 32 * 1024;

    /** The server broke the protocol; the connection cannot be trusted any further. */
    static final class ProtocolViolation extends java.io.IOException {
        ProtocolViolation(String message) {
            super("protocol violation: " + message);
        }
    }

    private int owed;
    private final byte[] line = new byte[MAX_LINE];
    private int lineLength;
    private final List<String> lines = new ArrayList<>();
    private int replyBytes;
    private ProtocolViolation violation;

    /** The client sent {@code n} commands that each get one reply. */
    void expect(int n) {
        owed += n;
    }

    /** Replies owed and not yet complete. */
    int owed() {
        return owed;
    }

    /**
     * What one chunk held: the replies it completed, in order, and the violation that ended
     * it, if any (nothing after a violation is read).
     */
    record Read(List<String> replies, ProtocolViolation violation) {}

    /**
     * Parses what the socket read. After a violation every later call reports the same one
     * and no reply.
     */
    Read feed(byte[] chunk, int offset, int length) {
        if (violation != null) {
            return new Read(List.of(), violation);
        }
        List<String> complete = new ArrayList<>(1);
        try {
            for (int i = offset; i < offset + length; i++) {
                if (owed == 0) {
                    throw violate(length - (i - offset) + " byte(s) received with no reply owed ("
                            + printable(chunk, i, Math.min(length - (i - offset), 40)) + ")");
                }
                byte b = chunk[i];
                if (b == '\n') {
                    String reply = endOfLine();
                    if (reply != null) {
                        complete.add(reply);
                    }
                    continue;
                }
                if (lineLength == MAX_LINE) {
                    throw violate("reply line longer than " + MAX_LINE + " octets");
                }
                line[lineLength++] = b;
            }
        } catch (ProtocolViolation v) {
            return new Read(complete, v);
        }
        return new Read(complete, null);
    }

    Read feed(byte[] chunk) {
        return feed(chunk, 0, chunk.length);
    }

    private String endOfLine() throws ProtocolViolation {
        int n = lineLength > 0 && line[lineLength - 1] == '\r' ? lineLength - 1 : lineLength;
        String l = new String(line, 0, n, StandardCharsets.ISO_8859_1);
        lineLength = 0;
        if (n < 3 || !validCode(l) || (n > 3 && l.charAt(3) != ' ' && l.charAt(3) != '-')) {
            throw violate("not an SMTP reply line: " + printable(l));
        }
        if (!lines.isEmpty() && !lines.get(0).regionMatches(0, l, 0, 3)) {
            throw violate("reply lines with different codes: " + printable(lines.get(0)) + " / " + printable(l));
        }
        replyBytes += n + 2;
        if (replyBytes > MAX_REPLY) {
            throw violate("reply longer than " + MAX_REPLY + " octets");
        }
        lines.add(l);
        if (n > 3 && l.charAt(3) == '-') {
            if (lines.size() == MAX_LINES) {
                throw violate("reply of more than " + MAX_LINES + " lines");
            }
            return null;
        }
        String reply = String.join("\r\n", lines);
        lines.clear();
        replyBytes = 0;
        owed--;
        return reply;
    }

    private static boolean validCode(String l) {
        char a = l.charAt(0);
        char b = l.charAt(1);
        char c = l.charAt(2);
        return a >= '2' && a <= '5' && b >= '0' && b <= '5' && c >= '0' && c <= '9';
    }

    private ProtocolViolation violate(String why) {
        violation = new ProtocolViolation(why);
        return violation;
    }

    private static String printable(byte[] b, int offset, int length) {
        return printable(new String(b, offset, length, StandardCharsets.ISO_8859_1));
    }

    /** For log lines: control characters escaped, at most 80 characters. */
    static String printable(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length() && out.length() < 80; i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\r' -> out.append("\\r");
                case '\n' -> out.append("\\n");
                default -> {
                    if (c < 0x20 || c >= 0x7f) {
                        out.append(String.format("\\x%02x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }
}
