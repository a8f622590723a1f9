package io.tlsgate.policy.bounce;

import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * SQL for the {@code bounce_profile} table. Every method works in the caller's connection (and
 * transaction); the table's trigger bumps the policy version. No validation here.
 */
@ApplicationScoped
public class BounceProfileStore {

    private static final String COLUMNS = "name, max_retries, max_queue_seconds, initial_retry_seconds, max_retry_seconds, "
            + "hard_bounce, delay_warnings, delay_warning_interval_seconds, max_delay_warnings";

    /** Every profile, by name. */
    public List<BounceProfile> all(Connection c) throws SQLException {
        List<BounceProfile> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from bounce_profile order by name");
                ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                out.add(row(r));
            }
        }
        return out;
    }

    /** The names of every profile. */
    public Set<String> names(Connection c) throws SQLException {
        Set<String> names = new TreeSet<>();
        try (PreparedStatement ps = c.prepareStatement("select name from bounce_profile");
                ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                names.add(r.getString(1));
            }
        }
        return names;
    }

    public Optional<BounceProfile> find(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from bounce_profile where name = ?")) {
            ps.setString(1, name);
            try (ResultSet r = ps.executeQuery()) {
                return r.next() ? Optional.of(row(r)) : Optional.empty();
            }
        }
    }

    /** Inserts; false when the name exists already. */
    public boolean insert(Connection c, BounceProfile p) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("insert into bounce_profile (" + COLUMNS + ") "
                + "values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (name) do nothing")) {
            ps.setString(1, p.name());
            bindSettings(ps, 2, p);
            return ps.executeUpdate() == 1;
        }
    }

    /** Replaces every setting of the profile named {@code p.name()}. */
    public void update(Connection c, BounceProfile p) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("update bounce_profile set max_retries = ?, max_queue_seconds = ?, "
                + "initial_retry_seconds = ?, max_retry_seconds = ?, hard_bounce = ?, delay_warnings = ?, "
                + "delay_warning_interval_seconds = ?, max_delay_warnings = ? where name = ?")) {
            int i = bindSettings(ps, 1, p);
            ps.setString(i, p.name());
            ps.executeUpdate();
        }
    }

    public void delete(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("delete from bounce_profile where name = ?")) {
            ps.setString(1, name);
            ps.executeUpdate();
        }
    }

    /** Binds the settings (every column but the name) from parameter {@code i}; returns the next index. */
    private static int bindSettings(PreparedStatement ps, int i, BounceProfile p) throws SQLException {
        ps.setInt(i++, p.maxRetries());
        ps.setInt(i++, p.maxTimeInQueueSeconds());
        ps.setInt(i++, p.initialRetrySeconds());
        ps.setInt(i++, p.maxRetrySeconds());
        ps.setBoolean(i++, p.sendHardBounces());
        ps.setBoolean(i++, p.sendDelayWarnings());
        ps.setInt(i++, p.delayWarningIntervalSeconds());
        ps.setInt(i++, p.maxDelayWarnings());
        return i;
    }

    private static BounceProfile row(ResultSet r) throws SQLException {
        return new BounceProfile(r.getString(1), r.getInt(2), r.getInt(3), r.getInt(4), r.getInt(5), r.getBoolean(6),
                r.getBoolean(7), r.getInt(8), r.getInt(9));
    }
}
