package io.tlsgate.core.dns;

import java.net.IDN;
import java.util.Locale;

/**
 * Domain-name normalisation used wherever domains are compared: IDNA A-label form, lower
 * case, no trailing dot. Fails closed: anything that is not a well-formed host name is
 * refused rather than matched loosely.
 */
public final class DomainName {

    private DomainName() {}

    /**
     * The normalised form of a domain name ({@code Bücher.Example.} becomes
     * {@code xn--bcher-kva.example}).
     *
     * @throws IllegalArgumentException naming the value and what is wrong with it
     */
    public static String normalise(String domain) {
        if (domain == null || domain.isBlank()) {
            throw new IllegalArgumentException("domain is empty");
        }
        String d = domain.trim();
        if (d.endsWith(".")) {
            d = d.substring(0, d.length() - 1);
        }
        String ascii = asciiFastPath(d);
        if (ascii == null) {
            try {
                ascii = IDN.toASCII(d, IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("'" + domain + "' is not a valid domain name: " + e.getMessage());
            }
        }
        if (ascii.isEmpty() || ascii.length() > 253) {
            throw new IllegalArgumentException("'" + domain + "' is not a valid domain name: bad length");
        }
        for (String label : ascii.split("\\.", -1)) {
            if (label.isEmpty() || label.length() > 63) {
                throw new IllegalArgumentException("'" + domain + "' is not a valid domain name: empty or long label");
            }
        }
        return ascii;
    }

    /**
     * The lower-case form of a name made only of ASCII letters, digits, hyphens and dots whose
     * labels do not start or end with a hyphen (what {@link IDN#toASCII} with STD3 rules
     * returns for such a name, without its cost); null for anything else, which then goes
     * through IDN.
     */
    private static String asciiFastPath(String d) {
        int n = d.length();
        boolean upper = false;
        for (int i = 0; i < n; i++) {
            char c = d.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                upper = true;
            } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
                return null;
            }
            if (c == '-' && (i == 0 || i == n - 1 || d.charAt(i - 1) == '.' || d.charAt(i + 1) == '.')) {
                return null;
            }
        }
        return upper ? d.toLowerCase(Locale.ROOT) : d;
    }
}
