package io.tlsgate.core.inbound;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.dns.DomainName;
import java.util.Locale;

/**
 * An envelope-sender pattern of a mail flow policy's TLS-mandatory list (docs/inbound-policy.md):
 * {@code user@example.com} (that address), {@code user@} (that local part at any domain),
 * {@code @example.com} (any sender at that domain), {@code @.example.com} (any sender at a
 * subdomain of it, not at the domain itself), {@code @[192.0.2.1]} (an address literal).
 * Local parts compare without regard to case, as appliances do; domains are IDNA-normalised.
 */
public record SenderAddress(String text, String localPart, String domain, boolean subdomains) {

    /** Longest local part (RFC 5321 §4.5.3.1.1). */
    public static final int MAX_LOCAL_PART = 64;

    /**
     * Parses a pattern.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public static SenderAddress parse(String raw) {
        if (raw == null || raw.isBlank()) {
            throw new IllegalArgumentException("sender pattern is empty");
        }
        String s = raw.trim();
        int at = s.lastIndexOf('@');
        if (at < 0) {
            throw new IllegalArgumentException("'" + raw + "' has no '@' (write user@example.com, user@, @example.com, "
                    + "@.example.com or @[192.0.2.1])");
        }
        String local = s.substring(0, at);
        String dom = s.substring(at + 1);
        if (local.isEmpty() && dom.isEmpty()) {
            throw new IllegalArgumentException("'" + raw + "' names neither a local part nor a domain");
        }
        if (local.length() > MAX_LOCAL_PART || !local.chars().allMatch(c -> c > 32 && c < 127 && c != '<' && c != '>')) {
            throw new IllegalArgumentException("'" + raw + "' has an invalid local part");
        }
        String l = local.isEmpty() ? null : local.toLowerCase(Locale.ROOT);
        if (dom.isEmpty()) {
            return new SenderAddress(l + "@", l, null, false);
        }
        boolean sub = false;
        String d;
        if (dom.startsWith("[") && dom.endsWith("]")) {
            d = normaliseDomain(dom);
            if (d == null) {
                throw new IllegalArgumentException("'" + raw + "' has an invalid address literal");
            }
        } else {
            if (dom.startsWith(".")) {
                sub = true;
                dom = dom.substring(1);
            }
            try {
                d = DomainName.normalise(dom);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("'" + raw + "': " + e.getMessage());
            }
        }
        String text = (l == null ? "" : l) + "@" + (sub ? "." : "") + d;
        return new SenderAddress(text, l, d, sub);
    }

    /**
     * Whether an envelope sender ({@code MAIL FROM} path without angle brackets) matches. The
     * null sender ({@code <>}) and anything without '@' match nothing.
     */
    public boolean matches(String sender) {
        if (sender == null) {
            return false;
        }
        int at = sender.lastIndexOf('@');
        if (at <= 0 || at == sender.length() - 1) {
            return false;
        }
        if (localPart != null && !localPart.equalsIgnoreCase(sender.substring(0, at))) {
            return false;
        }
        if (domain == null) {
            return true;
        }
        String d = normaliseDomain(sender.substring(at + 1));
        if (d == null) {
            return false;
        }
        return subdomains ? d.endsWith("." + domain) : d.equals(domain);
    }

    private static String normaliseDomain(String d) {
        if (d.startsWith("[") && d.endsWith("]")) {
            String inner = d.substring(1, d.length() - 1);
            if (inner.regionMatches(true, 0, "IPv6:", 0, 5)) {
                inner = inner.substring(5);
            }
            byte[] a = DestinationKey.parseAddress(inner);
            return a == null ? null : "[" + DestinationKey.format(a) + "]";
        }
        try {
            return DomainName.normalise(d);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
