package io.tlsgate.policy.resolve;

import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * SQL for {@code policy_version}: the version every change bumps (a trigger, V1__policy.sql)
 * and the version of the destination table alone. Works in the caller's transaction.
 */
@ApplicationScoped
public class PolicyVersionStore {

    /** The query for the policy version (also what the change listener polls). */
    public static final String VERSION = "select version from policy_version where id = 1";

    /** The policy version and the version of the destination table. */
    public record Versions(long version, long destinations) {}

    /** The committed policy version as seen by {@code c}. */
    public long version(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(VERSION); ResultSet r = ps.executeQuery()) {
            r.next();
            return r.getLong(1);
        }
    }

    /** Both versions, as seen by {@code c}. */
    public Versions versions(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "select version, destinations_version from policy_version where id = 1");
                ResultSet r = ps.executeQuery()) {
            r.next();
            return new Versions(r.getLong(1), r.getLong(2));
        }
    }
}
