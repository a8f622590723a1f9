package io.tlsgate.policy.resolve;

import io.tlsgate.core.inbound.InboundIndex;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * The inbound tables as the resolver loads them (implemented by the inbound package's store,
 * so the resolver depends on no feature package).
 */
public interface InboundTables {

    /** Everything, as one consistent in-memory snapshot (call inside a repeatable-read transaction). */
    InboundIndex load(Connection c) throws SQLException;
}
