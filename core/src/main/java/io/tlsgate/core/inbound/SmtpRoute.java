package io.tlsgate.core.inbound;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.dns.DomainName;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * An SMTP route (docs/inbound-policy.md): the next hops for a domain, tried in order, instead of an
 * MX lookup. {@code USEDNS} as the last hop means "then fall back to the MX lookup"; a route
 * of just {@code USEDNS} overrides a broader route with the normal MX lookup.
 */
public record SmtpRoute(String domain, List<Hop> hops, boolean useDns) {

    public static final String USEDNS = "USEDNS";
    public static final int MAX_HOPS = 32;
    public static final int DEFAULT_PORT = 25;

    /** A next hop: a host name or an IP address (shown as {@code [addr]}), and a port. */
    public record Hop(String host, int port) {
        @Override
        public String toString() {
            return port == DEFAULT_PORT ? host : host + ":" + port;
        }
    }

    public SmtpRoute {
        hops = List.copyOf(hops);
    }

    /** The hops as an operator writes them, USEDNS included. */
    public List<String> hopTexts() {
        List<String> out = new ArrayList<>(hops.stream().map(Hop::toString).toList());
        if (useDns) {
            out.add(USEDNS);
        }
        return out;
    }

    /**
     * Parses a list of hops: {@code host}, {@code host:port}, {@code 192.0.2.1:2525},
     * {@code [2001:db8::1]:25}, and {@code USEDNS} only as the last item.
     *
     * @throws IllegalArgumentException naming the bad item (1-based) and what is wrong with it
     */
    public static SmtpRoute of(String domain, List<String> items) {
        if (items == null || items.isEmpty()) {
            throw new IllegalArgumentException("a route needs at least one hop (or USEDNS)");
        }
        if (items.size() > MAX_HOPS + 1) {
            throw new IllegalArgumentException("more than " + MAX_HOPS + " hops");
        }
        List<Hop> hops = new ArrayList<>();
        boolean dns = false;
        for (int i = 0; i < items.size(); i++) {
            String raw = items.get(i) == null ? "" : items.get(i).trim();
            if (raw.toUpperCase(Locale.ROOT).equals(USEDNS)) {
                if (i != items.size() - 1) {
                    throw new HopException(i, "USEDNS must be the last hop");
                }
                dns = true;
                continue;
            }
            try {
                hops.add(parseHop(raw));
            } catch (IllegalArgumentException e) {
                throw new HopException(i, e.getMessage());
            }
        }
        return new SmtpRoute(domain, hops, dns);
    }

    /** A bad hop, with its 0-based index. */
    public static final class HopException extends IllegalArgumentException {
        private final int index;

        HopException(int index, String message) {
            super(message);
            this.index = index;
        }

        public int index() {
            return index;
        }
    }

    static Hop parseHop(String raw) {
        if (raw.isEmpty()) {
            throw new IllegalArgumentException("empty hop");
        }
        String host = raw;
        int port = DEFAULT_PORT;
        if (raw.startsWith("[")) {
            int close = raw.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("'" + raw + "' has no closing ']'");
            }
            host = raw.substring(1, close);
            String rest = raw.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw new IllegalArgumentException("'" + raw + "': expected ':port' after ']'");
                }
                port = port(raw, rest.substring(1));
            }
            byte[] a = DestinationKey.parseAddress(host);
            if (a == null) {
                throw new IllegalArgumentException("'" + raw + "' is not an IP address in brackets");
            }
            return new Hop("[" + DestinationKey.format(a) + "]", port);
        }
        if (raw.indexOf(':') != raw.lastIndexOf(':')) {
            throw new IllegalArgumentException("'" + raw + "': write IPv6 addresses as [2001:db8::1] or [2001:db8::1]:port");
        }
        int colon = raw.indexOf(':');
        if (colon >= 0) {
            host = raw.substring(0, colon);
            port = port(raw, raw.substring(colon + 1));
        }
        byte[] a = DestinationKey.parseAddress(host);
        if (a != null) {
            return new Hop("[" + DestinationKey.format(a) + "]", port);
        }
        if (host.chars().allMatch(c -> Character.isDigit(c) || c == '.')) {
            throw new IllegalArgumentException("'" + raw + "' is not a valid IP address");
        }
        return new Hop(DomainName.normalise(host), port);
    }

    private static int port(String raw, String p) {
        if (p.isEmpty() || p.length() > 5 || !p.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("'" + raw + "': port must be a number from 1 to 65535");
        }
        int v = Integer.parseInt(p);
        if (v < 1 || v > 65535) {
            throw new IllegalArgumentException("'" + raw + "': port must be a number from 1 to 65535");
        }
        return v;
    }
}
