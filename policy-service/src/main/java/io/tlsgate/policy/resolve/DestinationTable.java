package io.tlsgate.policy.resolve;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;

/**
 * The destination-control table as the resolver loads it (implemented by the destination
 * package's store, so the resolver depends on no feature package).
 */
public interface DestinationTable {

    /** Every entry, default first, then by key, as of {@code c}'s transaction. */
    Map<DestinationKey, DestinationSettings> loadAll(Connection c) throws SQLException;
}
