package io.tlsgate.core.inbound;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A named sender group (docs/inbound-policy.md): client patterns and the mail flow policy its clients
 * get. The built-in group {@value #CATCH_ALL} matches everyone and closes every host access
 * table; only its policy can change.
 */
public record SenderGroup(String name, List<SenderPattern> senders, String policy) {

    public static final String CATCH_ALL = "ALL";
    public static final int MAX_SENDERS = 100_000;

    public SenderGroup {
        senders = List.copyOf(senders);
    }

    public boolean isCatchAll() {
        return CATCH_ALL.equals(name);
    }

    /** Whether a pattern of the group matches every possible client. */
    public boolean matchesEveryone() {
        return senders.stream().anyMatch(SenderPattern::matchesEveryone);
    }

    /** The group's patterns compiled for lookup: addresses and names by hash, networks in order. */
    static final class Matcher {
        private final Map<ByteBuffer, String> addresses = new HashMap<>();
        private final Map<String, String> hosts = new HashMap<>();
        private final Map<String, String> suffixes = new HashMap<>();
        private final List<SenderPattern> networks = new ArrayList<>();
        private final SenderPattern all;

        Matcher(SenderGroup g) {
            SenderPattern everyone = null;
            for (SenderPattern p : g.senders()) {
                if (p.isAll()) {
                    everyone = everyone == null ? p : everyone;
                    continue;
                }
                switch (p.key().kind()) {
                    case ADDRESS -> addresses.putIfAbsent(ByteBuffer.wrap(p.key().address()), p.text());
                    case CIDR -> networks.add(p);
                    case DOMAIN -> hosts.putIfAbsent(p.text(), p.text());
                    case SUFFIX -> suffixes.putIfAbsent(p.text(), p.text());
                    default -> { }
                }
            }
            all = everyone;
        }

        /** The text of the first kind of pattern that matches (address, network, host, suffix, ALL), or null. */
        String match(byte[] address, String verifiedHost) {
            if (address != null) {
                String a = addresses.get(ByteBuffer.wrap(address));
                if (a != null) {
                    return a;
                }
                for (SenderPattern n : networks) {
                    if (n.matches(address, null)) {
                        return n.text();
                    }
                }
            }
            if (verifiedHost != null) {
                String h = hosts.get(verifiedHost);
                if (h != null) {
                    return h;
                }
                for (int dot = verifiedHost.indexOf('.'); dot >= 0; dot = verifiedHost.indexOf('.', dot + 1)) {
                    String s = suffixes.get(verifiedHost.substring(dot));
                    if (s != null) {
                        return s;
                    }
                }
            }
            return all == null ? null : all.text();
        }
    }
}
