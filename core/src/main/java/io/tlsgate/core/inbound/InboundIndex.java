package io.tlsgate.core.inbound;

import io.tlsgate.core.dns.DomainName;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The inbound policy of docs/inbound-policy.md as one immutable, in-memory snapshot: listeners and
 * their host access tables, sender groups, mail flow policies, the recipient access table
 * and SMTP routes. It answers the three questions the SMTP services ask:
 * <ul>
 *   <li>{@link #resolve}: which sender group (first match in the listener's HAT, then the
 *       catch-all {@code ALL}) and so which mail flow policy a client gets, and why;</li>
 *   <li>{@link #acceptsRecipient}: whether a domain is in the recipient access table;</li>
 *   <li>{@link #route}: the next hops for a domain, if an SMTP route overrides the MX lookup.</li>
 * </ul>
 */
public final class InboundIndex {

    /**
     * Which sender group a client falls into.
     *
     * @param matchedBy the group's entry that matched ({@code 10.0.0.0/8}, {@code .example.com}, {@code ALL})
     * @param position 1-based position of the group in the listener's HAT; 0 for the catch-all
     */
    public record HatDecision(String listener, String senderGroup, String matchedBy, int position, MailFlowPolicy policy) {}

    /** Whether a recipient domain is accepted, and the RAT entry that says so (null when not). */
    public record RecipientDecision(boolean accepted, String matchedKey) {}

    /** The route for a domain: the matching route's key (null: none, use DNS), its hops, DNS fallback. */
    public record RouteDecision(String matchedKey, List<SmtpRoute.Hop> hops, boolean useDns) {}

    private record Compiled(SenderGroup group, SenderGroup.Matcher matcher, MailFlowPolicy policy) {}

    private final Map<String, Listener> listeners = new HashMap<>();
    private final Map<String, List<Compiled>> hats = new HashMap<>();
    private final Compiled catchAll;
    private final DomainTable<String> rat = new DomainTable<>();
    private final DomainTable<SmtpRoute> routes = new DomainTable<>();

    private InboundIndex(Compiled catchAll) {
        this.catchAll = catchAll;
    }

    /**
     * Builds the snapshot; the references must be consistent (every group's policy and every
     * HAT's groups exist, the catch-all group exists and is in no HAT).
     *
     * @param hats listener name to the ordered sender-group names of its HAT (catch-all implied)
     * @param ratKeys recipient access table keys ({@code example.com}, {@code .example.com})
     * @throws IllegalStateException when a reference is dangling
     */
    public static InboundIndex of(Collection<Listener> listeners, Collection<SenderGroup> groups,
            Collection<MailFlowPolicy> policies, Map<String, List<String>> hats, Collection<String> ratKeys,
            Collection<SmtpRoute> routes) {
        Map<String, MailFlowPolicy> byPolicy = new HashMap<>();
        policies.forEach(p -> byPolicy.put(p.name(), p));
        Map<String, Compiled> byGroup = new HashMap<>();
        for (SenderGroup g : groups) {
            MailFlowPolicy p = byPolicy.get(g.policy());
            if (p == null) {
                throw new IllegalStateException("sender group " + g.name() + " names unknown policy " + g.policy());
            }
            byGroup.put(g.name(), new Compiled(g, new SenderGroup.Matcher(g), p));
        }
        Compiled all = byGroup.get(SenderGroup.CATCH_ALL);
        if (all == null) {
            throw new IllegalStateException("the catch-all sender group " + SenderGroup.CATCH_ALL + " is missing");
        }
        InboundIndex ix = new InboundIndex(all);
        listeners.forEach(l -> ix.listeners.put(l.name(), l));
        for (Listener l : listeners) {
            List<Compiled> hat = new ArrayList<>();
            for (String name : hats.getOrDefault(l.name(), List.of())) {
                Compiled c = byGroup.get(name);
                if (c == null || c.group().isCatchAll()) {
                    throw new IllegalStateException("HAT of " + l.name() + " names " + name);
                }
                hat.add(c);
            }
            ix.hats.put(l.name(), List.copyOf(hat));
        }
        for (String k : ratKeys) {
            DomainTable.Key key = DomainTable.parseKey(k, false);
            ix.rat.put(key, key.text());
        }
        for (SmtpRoute r : routes) {
            ix.routes.put(DomainTable.parseKey(r.domain(), true), r);
        }
        return ix;
    }

    public Optional<Listener> listener(String name) {
        return Optional.ofNullable(listeners.get(name));
    }

    /** Every listener, by name. */
    public List<Listener> listeners() {
        return listeners.values().stream().sorted(Comparator.comparing(Listener::name)).toList();
    }

    /**
     * The sender group and policy for a client of a listener: the first group of the HAT with
     * a matching entry, else the catch-all.
     *
     * @param address the client's address bytes (4 or 16)
     * @param rdnsHost the client's reverse-DNS name (any case, trailing dot allowed), or null
     * @param rdnsVerified whether the forward lookup of that name leads back to the address; an
     *        unverified (or malformed) name is ignored, so host and suffix entries cannot match
     * @return empty when there is no such listener
     */
    public Optional<HatDecision> resolve(String listener, byte[] address, String rdnsHost, boolean rdnsVerified) {
        List<Compiled> hat = hats.get(listener);
        if (hat == null) {
            return Optional.empty();
        }
        String host = rdnsVerified ? normaliseHost(rdnsHost) : null;
        for (int i = 0; i < hat.size(); i++) {
            Compiled c = hat.get(i);
            String m = c.matcher().match(address, host);
            if (m != null) {
                return Optional.of(new HatDecision(listener, c.group().name(), m, i + 1, c.policy()));
            }
        }
        return Optional.of(new HatDecision(listener, catchAll.group().name(), SenderPattern.ALL_TEXT, 0, catchAll.policy()));
    }

    private static String normaliseHost(String host) {
        if (host == null || host.isBlank()) {
            return null;
        }
        try {
            return DomainName.normalise(host);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Whether a normalised recipient domain is in the recipient access table. */
    public RecipientDecision acceptsRecipient(String normalisedDomain) {
        DomainTable.Match<String> m = rat.lookup(normalisedDomain);
        return m == null ? new RecipientDecision(false, null) : new RecipientDecision(true, m.key());
    }

    /** The SMTP route of a normalised domain; no route means MX lookup. */
    public RouteDecision route(String normalisedDomain) {
        DomainTable.Match<SmtpRoute> m = routes.lookup(normalisedDomain);
        if (m == null) {
            return new RouteDecision(null, List.of(), true);
        }
        return new RouteDecision(m.key(), m.value().hops(), m.value().useDns());
    }

    public int ratSize() {
        return rat.size();
    }
}
