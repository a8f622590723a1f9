package io.tlsgate.policy.bounce;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Who names a bounce profile: implemented by the destination package's store (the
 * destination entries name profiles), so this package depends on none that uses it.
 */
public interface BounceProfileUsers {

    /** How many destination entries name this bounce profile, as of {@code c}'s transaction. */
    int countUsingProfile(Connection c, String profile) throws SQLException;
}
