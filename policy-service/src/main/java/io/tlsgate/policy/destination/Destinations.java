package io.tlsgate.policy.destination;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.policy.bounce.BounceProfileStore;
import io.tlsgate.policy.change.PolicyTransactions;
import io.tlsgate.policy.web.ChangeContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The destination-control table's operations (docs/destination-controls.md): validated against the bounce
 * profiles that exist, audited, all-or-nothing.
 */
@ApplicationScoped
public class Destinations {

    static final String ENTITY = "destination:";

    private final PolicyTransactions tx;
    private final DestinationStore store;
    private final BounceProfileStore profiles;

    Destinations(PolicyTransactions tx, DestinationStore store, BounceProfileStore profiles) {
        this.tx = tx;
        this.store = store;
        this.profiles = profiles;
    }

    public Map<DestinationKey, DestinationSettings> all() {
        return tx.read((c, a) -> store.loadAll(c));
    }

    /** One entry; 404 when there is none for the key. */
    public DestinationSettings get(DestinationKey key) {
        return tx.read((c, a) -> store.find(c, key).orElseThrow(() -> notFound(key)));
    }

    /** Creates an entry; 409 when the key exists, 400 when its bounce profile does not. */
    public DestinationSettings create(DestinationKey key, DestinationSettings s, ChangeContext who) {
        requireDomainFields(key, s);
        return tx.change(who, (c, audit) -> {
            requireProfiles(c, Set.of(s));
            if (!store.insert(c, key, s)) {
                throw ProblemException.conflict("an entry for '" + key + "' exists already");
            }
            audit.record("create", ENTITY + key, null, DestinationJson.entry(key, s));
            return s;
        });
    }

    /**
     * Replaces an entry's fields. For {@code default}, fields left null keep their current
     * value (the default entry always has every field).
     */
    public DestinationSettings replace(DestinationKey key, DestinationSettings s, ChangeContext who) {
        requireDomainFields(key, s);
        return tx.change(who, (c, audit) -> {
            DestinationSettings before = store.find(c, key).orElseThrow(() -> notFound(key));
            DestinationSettings after = key.isDefault() ? overlay(before, s) : s;
            requireProfiles(c, Set.of(after));
            store.update(c, key, after);
            audit.record("update", ENTITY + key, DestinationJson.entry(key, before), DestinationJson.entry(key, after));
            return after;
        });
    }

    /** Deletes an entry; the default entry cannot be deleted (409). */
    public void delete(DestinationKey key, ChangeContext who) {
        if (key.isDefault()) {
            throw ProblemException.conflict("the default entry cannot be deleted");
        }
        tx.change(who, (c, audit) -> {
            DestinationSettings before = store.find(c, key).orElseThrow(() -> notFound(key));
            store.delete(c, key);
            audit.record("delete", ENTITY + key, DestinationJson.entry(key, before), null);
            return null;
        });
    }

    /** Deletes every entry but default; returns how many. */
    public int clear(ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            int n = store.deleteAllButDefault(c);
            audit.record("clear", ENTITY + "*", Map.of("entries", n), Map.of("entries", 0));
            return n;
        });
    }

    /**
     * Replaces the whole table (import): default is updated, every other entry replaced.
     * All or nothing.
     */
    public int replaceAll(Map<DestinationKey, DestinationSettings> table, ChangeContext who) {
        DestinationSettings def = table.get(DestinationKey.DEFAULT);
        if (def == null || !def.isComplete()) {
            throw InvalidRequestException.field("default", "the import needs a complete [DEFAULT] section");
        }
        table.forEach(Destinations::requireDomainFields);
        return tx.change(who, (c, audit) -> {
            requireProfiles(c, table.values());
            int removed = store.deleteAllButDefault(c);
            store.update(c, DestinationKey.DEFAULT, def);
            Map<DestinationKey, DestinationSettings> rest = new LinkedHashMap<>(table);
            rest.remove(DestinationKey.DEFAULT);
            store.insertAll(c, rest);
            audit.record("import", ENTITY + "*", Map.of("entries", removed + 1), Map.of("entries", table.size()));
            return table.size();
        });
    }

    private static DestinationSettings overlay(DestinationSettings base, DestinationSettings s) {
        return new DestinationSettings(
                s.tls() != null ? s.tls() : base.tls(),
                s.maxConcurrentConnections() != null ? s.maxConcurrentConnections() : base.maxConcurrentConnections(),
                s.maxMessagesPerConnection() != null ? s.maxMessagesPerConnection() : base.maxMessagesPerConnection(),
                s.recipientLimit() != null ? s.recipientLimit() : base.recipientLimit(),
                s.limitsApplyPer() != null ? s.limitsApplyPer() : base.limitsApplyPer(),
                s.limitsScope() != null ? s.limitsScope() : base.limitsScope(),
                s.ipPreference() != null ? s.ipPreference() : base.ipPreference(),
                s.bounceVerification() != null ? s.bounceVerification() : base.bounceVerification(),
                s.bounceProfile() != null ? s.bounceProfile() : base.bounceProfile(),
                s.ignoreMtaSts() != null ? s.ignoreMtaSts() : base.ignoreMtaSts(),
                s.ignoreDane() != null ? s.ignoreDane() : base.ignoreDane());
    }

    /**
     * {@code ignoreMtaSts} and {@code ignoreDane} are about a recipient domain's DNS: an address
     * or CIDR entry (which applies per connection) cannot carry them (400 naming the field).
     */
    private static void requireDomainFields(DestinationKey key, DestinationSettings s) {
        if (key.isNetwork() && s.ignoreDane() != null) {
            throw InvalidRequestException.field("ignoreDane", "only domain entries can ignore a domain's DANE records, "
                    + "not an address or CIDR entry");
        }
        if (key.isNetwork() && s.ignoreMtaSts() != null) {
            throw InvalidRequestException.field("ignoreMtaSts", "only domain entries can ignore a domain's MTA-STS policy, "
                    + "not an address or CIDR entry");
        }
    }

    private static ProblemException notFound(DestinationKey key) {
        return ProblemException.notFound("no entry for '" + key + "'");
    }

    /** 400 naming bounceProfile when any settings name a profile that does not exist. */
    private void requireProfiles(Connection c, Collection<DestinationSettings> all) throws SQLException {
        Set<String> wanted = new TreeSet<>();
        all.forEach(s -> {
            if (s.bounceProfile() != null) {
                wanted.add(s.bounceProfile());
            }
        });
        if (wanted.isEmpty()) {
            return;
        }
        wanted.removeAll(profiles.names(c));
        if (!wanted.isEmpty()) {
            throw InvalidRequestException.field("bounceProfile", "unknown bounce profile " + String.join(", ", wanted));
        }
    }
}
