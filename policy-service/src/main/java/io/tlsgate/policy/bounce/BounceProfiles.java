package io.tlsgate.policy.bounce;

import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.policy.change.PolicyTransactions;
import io.tlsgate.policy.web.ChangeContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;

/** Bounce profiles: {@code default} always exists; one in use cannot go. Every change audited. */
@ApplicationScoped
public class BounceProfiles {

    static final String ENTITY = "bounce-profile:";

    private final PolicyTransactions tx;
    private final BounceProfileStore store;
    private final BounceProfileUsers users;

    BounceProfiles(PolicyTransactions tx, BounceProfileStore store, BounceProfileUsers users) {
        this.tx = tx;
        this.store = store;
        this.users = users;
    }

    public List<BounceProfile> all() {
        return tx.read((c, a) -> store.all(c));
    }

    /** One profile; 404 when there is none of that name. */
    public BounceProfile get(String name) {
        return tx.read((c, a) -> store.find(c, name).orElseThrow(() -> notFound(name)));
    }

    /** Creates a profile; 409 when the name exists. */
    public BounceProfile create(BounceProfile p, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            if (!store.insert(c, p)) {
                throw ProblemException.conflict("a bounce profile named '" + p.name() + "' exists already");
            }
            audit.record("create", ENTITY + p.name(), null, p);
            return p;
        });
    }

    /** Replaces a profile's settings; 404 when there is none of that name. */
    public BounceProfile replace(BounceProfile p, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            BounceProfile before = store.find(c, p.name()).orElseThrow(() -> notFound(p.name()));
            store.update(c, p);
            audit.record("update", ENTITY + p.name(), before, p);
            return p;
        });
    }

    /** Deletes a profile: 409 for {@code default} or one that destination entries name. */
    public void delete(String name, ChangeContext who) {
        if (BounceProfile.DEFAULT.equals(name)) {
            throw ProblemException.conflict("the default bounce profile cannot be deleted");
        }
        tx.change(who, (c, audit) -> {
            BounceProfile before = store.find(c, name).orElseThrow(() -> notFound(name));
            int n = users.countUsingProfile(c, name);
            if (n > 0) {
                throw ProblemException.conflict("bounce profile '" + name + "' is used by " + n
                        + " destination entr" + (n == 1 ? "y" : "ies"));
            }
            store.delete(c, name);
            audit.record("delete", ENTITY + name, before, null);
            return null;
        });
    }

    private static ProblemException notFound(String name) {
        return ProblemException.notFound("no bounce profile named '" + name + "'");
    }
}
