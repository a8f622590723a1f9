package io.tlsgate.policy.bounce;

import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.policy.ChangeContext;
import io.tlsgate.policy.PolicyTransactions;
import io.tlsgate.policy.destination.DestinationStore;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Bounce profiles in the {@code policy} schema; {@code default} always exists; one in use cannot go. */
@ApplicationScoped
public class BounceProfiles {

    static final String ENTITY = "bounce-profile:";
    private static final String COLUMNS = "name, max_retries, max_queue_seconds, initial_retry_seconds, max_retry_seconds, "
            + "hard_bounce, delay_warnings";

    private final PolicyTransactions tx;
    private final DestinationStore destinations;

    BounceProfiles(PolicyTransactions tx, DestinationStore destinations) {
        this.tx = tx;
        this.destinations = destinations;
    }

    public List<BounceProfile> all() {
        return tx.read((c, a) -> all(c));
    }

    /** Every profile, by name, as of {@code c}'s transaction. */
    public static List<BounceProfile> all(Connection c) throws SQLException {
        List<BounceProfile> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from bounce_profile order by name");
                ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                out.add(row(r));
            }
        }
        return out;
    }

    public Optional<BounceProfile> get(String name) {
        return tx.read((c, a) -> find(c, name));
    }

    public BounceProfile create(BounceProfile p, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            try (PreparedStatement ps = c.prepareStatement("insert into bounce_profile (" + COLUMNS + ") "
                    + "values (?, ?, ?, ?, ?, ?, ?) on conflict (name) do nothing")) {
                bind(ps, p);
                if (ps.executeUpdate() == 0) {
                    throw ProblemException.conflict("a bounce profile named '" + p.name() + "' exists already");
                }
            }
            audit.record("create", ENTITY + p.name(), null, p);
            return p;
        });
    }

    public BounceProfile replace(BounceProfile p, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            BounceProfile before = find(c, p.name())
                    .orElseThrow(() -> ProblemException.notFound("no bounce profile named '" + p.name() + "'"));
            try (PreparedStatement ps = c.prepareStatement("update bounce_profile set max_retries = ?, max_queue_seconds = ?, "
                    + "initial_retry_seconds = ?, max_retry_seconds = ?, hard_bounce = ?, delay_warnings = ? where name = ?")) {
                ps.setInt(1, p.maxRetries());
                ps.setInt(2, p.maxTimeInQueueSeconds());
                ps.setInt(3, p.initialRetrySeconds());
                ps.setInt(4, p.maxRetrySeconds());
                ps.setBoolean(5, p.sendHardBounces());
                ps.setBoolean(6, p.sendDelayWarnings());
                ps.setString(7, p.name());
                ps.executeUpdate();
            }
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
            BounceProfile before = find(c, name)
                    .orElseThrow(() -> ProblemException.notFound("no bounce profile named '" + name + "'"));
            int users = destinations.countUsingProfile(c, name);
            if (users > 0) {
                throw ProblemException.conflict("bounce profile '" + name + "' is used by " + users
                        + " destination entr" + (users == 1 ? "y" : "ies"));
            }
            try (PreparedStatement ps = c.prepareStatement("delete from bounce_profile where name = ?")) {
                ps.setString(1, name);
                ps.executeUpdate();
            }
            audit.record("delete", ENTITY + name, before, null);
            return null;
        });
    }

    private static Optional<BounceProfile> find(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from bounce_profile where name = ?")) {
            ps.setString(1, name);
            try (ResultSet r = ps.executeQuery()) {
                return r.next() ? Optional.of(row(r)) : Optional.empty();
            }
        }
    }

    private static void bind(PreparedStatement ps, BounceProfile p) throws SQLException {
        ps.setString(1, p.name());
        ps.setInt(2, p.maxRetries());
        ps.setInt(3, p.maxTimeInQueueSeconds());
        ps.setInt(4, p.initialRetrySeconds());
        ps.setInt(5, p.maxRetrySeconds());
        ps.setBoolean(6, p.sendHardBounces());
        ps.setBoolean(7, p.sendDelayWarnings());
    }

    private static BounceProfile row(ResultSet r) throws SQLException {
        return new BounceProfile(r.getString(1), r.getInt(2), r.getInt(3), r.getInt(4), r.getInt(5), r.getBoolean(6),
                r.getBoolean(7));
    }
}
