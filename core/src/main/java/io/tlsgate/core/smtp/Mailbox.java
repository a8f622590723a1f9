package io.tlsgate.core.smtp;

/**
 * Whether a string may stand in {@code MAIL FROM:<...>} or {@code RCPT TO:<...>} as written
 * (RFC 5321 §4.1.2, lengths of §4.5.3.1): {@code local@domain} or {@code local@[literal]},
 * printable ASCII only (no CR, LF, NUL or other controls that could end a command line early,
 * no UTF-8: SMTPUTF8 is not offered), a dot-atom or quoted local part of at most 64 octets, a
 * domain of LDH labels of at most 63 octets, and a path of at most 256 octets (so the domain
 * is within its 255).
 * Security-sensitive: the delivery client writes these into command lines.
 */
public final class Mailbox {

    public static final int MAX_PATH = 256;
    public static final int MAX_LOCAL = 64;

    private Mailbox() {}

    /** Why {@code address} is not a mailbox, or null when it is one. */
    public static String problem(String address) {
        if (address == null || address.isEmpty()) {
            return "empty address";
        }
        if (address.length() > MAX_PATH) {
            return "address longer than " + MAX_PATH + " octets";
        }
        for (int i = 0; i < address.length(); i++) {
            char c = address.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                return "control character in the address";
            }
            if (c > 0x7f) {
                return "non-ASCII address (SMTPUTF8 is not supported)";
            }
        }
        int at = address.lastIndexOf('@');
        if (at <= 0 || at == address.length() - 1) {
            return "not local-part@domain";
        }
        String local = address.substring(0, at);
        String domain = address.substring(at + 1);
        String localProblem = local.startsWith("\"") ? quoted(local) : dotAtom(local);
        if (localProblem != null) {
            return localProblem;
        }
        if (local.length() > MAX_LOCAL) {
            return "local part longer than " + MAX_LOCAL + " octets";
        }
        if (domain.startsWith("[")) {
            return domain.endsWith("]") && domain.length() > 2 && domain.indexOf('[', 1) < 0
                    && domain.indexOf(']') == domain.length() - 1 && domain.indexOf(' ') < 0 ? null : "bad address literal";
        }
        for (String label : domain.split("\\.", -1)) {
            if (label.isEmpty() || label.length() > 63 || label.startsWith("-") || label.endsWith("-")) {
                return "bad domain";
            }
            for (int i = 0; i < label.length(); i++) {
                char c = label.charAt(i);
                if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')) {
                    return "bad domain";
                }
            }
        }
        return null;
    }

    /** RFC 5321 Dot-string: atoms of atext joined by single dots. */
    private static String dotAtom(String local) {
        if (local.startsWith(".") || local.endsWith(".") || local.contains("..")) {
            return "bad local part";
        }
        for (int i = 0; i < local.length(); i++) {
            char c = local.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.'
                    || "!#$%&'*+-/=?^_`{|}~".indexOf(c) >= 0)) {
                return "bad local part";
            }
        }
        return null;
    }

    /** RFC 5321 Quoted-string: printable ASCII, with backslash escapes, between double quotes. */
    private static String quoted(String local) {
        if (local.length() < 2 || !local.endsWith("\"")) {
            return "bad quoted local part";
        }
        for (int i = 1; i < local.length() - 1; i++) {
            char c = local.charAt(i);
            if (c == '\\') {
                i++;
                if (i == local.length() - 1) {
                    return "bad quoted local part";
                }
            } else if (c == '"') {
                return "bad quoted local part";
            }
        }
        return null;
    }
}
