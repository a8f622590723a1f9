package io.tlsgate.platform.db;

import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;

/**
 * The one way tlsgate runs JDBC work in a transaction: committed when it returns, rolled back
 * when it throws; a failure surfaces as an {@link IllegalStateException} whose cause is the
 * {@link SQLException}.
 */
public final class Jdbc {

    private Jdbc() {}

    /** Work on a connection inside a transaction. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    public static <T> T transaction(DataSource dataSource, Work<T> work) {
        return transaction(dataSource, -1, work);
    }

    /**
     * Reads in one snapshot (REPEATABLE READ: every statement sees the database as it was at the
     * first one), for work that must see several tables consistently, e.g. a whole policy.
     */
    public static <T> T snapshot(DataSource dataSource, Work<T> work) {
        return transaction(dataSource, Connection.TRANSACTION_REPEATABLE_READ, work);
    }

    /** {@code isolation} -1: the connection's own (PostgreSQL's READ COMMITTED), without a round trip to set it. */
    private static <T> T transaction(DataSource dataSource, int isolation, Work<T> work) {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            int before = isolation < 0 ? -1 : c.getTransactionIsolation();
            if (isolation >= 0) {
                c.setTransactionIsolation(isolation);
            }
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                if (isolation >= 0) {
                    c.setTransactionIsolation(before); // the pool hands the connection to others
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("database transaction failed: " + e.getMessage(), e);
        }
    }
}
