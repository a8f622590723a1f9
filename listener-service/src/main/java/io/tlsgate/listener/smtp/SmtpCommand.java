package io.tlsgate.listener.smtp;

import io.tlsgate.core.smtp.Mailbox;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Parsing of the arguments of {@code MAIL FROM:} and {@code RCPT TO:} (RFC 5321 §4.1.2,
 * RFC 6531 for UTF-8 addresses): the path in angle brackets (a source route is dropped) and
 * the ESMTP parameters. Lenient where real clients are (a space after the colon), strict where
 * it matters (no control characters, one {@code @}, a domain or address literal, lengths).
 */
public final class SmtpCommand {

    /** The parsed path ({@code ""} for {@code <>}) and its parameters (upper-case keys, null for no value). */
    public record PathArgs(String address, Map<String, String> params) {
        public String domain() {
            int at = address.lastIndexOf('@');
            return at < 0 ? "" : address.substring(at + 1);
        }

        /** RFC 6531: without SMTPUTF8 (not offered) an address must be ASCII. */
        public boolean ascii() {
            for (int i = 0; i < address.length(); i++) {
                if (address.charAt(i) >= 128) {
                    return false;
                }
            }
            return true;
        }
    }

    /** Thrown with the reason a path or parameter is unacceptable. */
    public static final class Invalid extends Exception {
        private final boolean syntax;

        Invalid(boolean syntax, String message) {
            super(message, null, false, false);
            this.syntax = syntax;
        }

        /** True when the command's shape is wrong (501 5.5.4), false when the address is (501 5.1.x). */
        public boolean syntax() {
            return syntax;
        }
    }


    private SmtpCommand() {
    }

    /**
     * Parses {@code FROM:<path> params} or {@code TO:<path> params}.
     *
     * @param keyword {@code "FROM:"} or {@code "TO:"}
     * @param nullAllowed whether {@code <>} is acceptable (MAIL yes, RCPT no)
     */
    public static PathArgs parse(String arg, String keyword, boolean nullAllowed) throws Invalid {
        if (arg.length() < keyword.length() || !arg.regionMatches(true, 0, keyword, 0, keyword.length())) {
            throw new Invalid(true, "expected " + keyword);
        }
        String rest = arg.substring(keyword.length()).stripLeading();
        if (!rest.startsWith("<")) {
            throw new Invalid(true, "the address must be in angle brackets");
        }
        int close = closingBracket(rest);
        if (close < 0) {
            throw new Invalid(true, "no closing '>'");
        }
        String path = rest.substring(1, close);
        String after = rest.substring(close + 1);
        if (!after.isEmpty() && !after.startsWith(" ")) {
            throw new Invalid(true, "text after the address");
        }
        if (path.startsWith("@")) { // source route: @a,@b:user@domain (RFC 5321 §4.1.2; ignored, as §C says)
            int colon = path.indexOf(':');
            if (colon < 0) {
                throw new Invalid(false, "bad source route");
            }
            path = path.substring(colon + 1);
        }
        if (path.isEmpty()) {
            if (!nullAllowed) {
                throw new Invalid(false, "empty address");
            }
        } else {
            checkMailbox(path);
        }
        Map<String, String> params = new LinkedHashMap<>();
        for (String p : after.trim().split(" +")) {
            if (p.isEmpty()) {
                continue;
            }
            int eq = p.indexOf('=');
            String key = (eq < 0 ? p : p.substring(0, eq)).toUpperCase(Locale.ROOT);
            if (key.isEmpty() || !key.chars().allMatch(c -> Character.isLetterOrDigit(c) || c == '-') || params.containsKey(key)) {
                throw new Invalid(true, "bad parameter " + p);
            }
            params.put(key, eq < 0 ? null : p.substring(eq + 1));
        }
        return new PathArgs(path, params);
    }

    private static int closingBracket(String s) {
        boolean quoted = false;
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && quoted) {
                i++;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == '>' && !quoted) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The mailbox rules delivery-service checks too (core {@link Mailbox}), so what the
     * listener accepts is what can be queued and written into command lines. A non-ASCII
     * address passes here: the session refuses it as such (553 5.6.7, no SMTPUTF8).
     */
    private static void checkMailbox(String path) throws Invalid {
        if (path.chars().anyMatch(c -> c > 127)) {
            return;
        }
        String problem = Mailbox.problem(path);
        if (problem != null) {
            throw new Invalid(false, problem);
        }
    }
}
