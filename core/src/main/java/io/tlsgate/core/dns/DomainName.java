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
        String ascii;
        try {
            ascii = IDN.toASCII(d, IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + domain + "' is not a valid domain name: " + e.getMessage());
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
}
