package io.tlsgate.platform.db;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.EmbeddedPostgresServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/** The one transaction helper, on a real PostgreSQL: commit, rollback, and the snapshot reads see. */
class JdbcTest {

    private static EmbeddedPostgresServer postgres;
    private static DataSource ds;

    @BeforeAll
    static void start() throws Exception {
        Path work = Files.createTempDirectory("tlsgate-jdbc-test");
        postgres = EmbeddedPostgresServer.start(0, work.resolve("pg"), Path.of(System.getProperty("java.io.tmpdir"),
                "tlsgate-embedded-pg"), "jdbc", "jdbc", "jdbc-test");
        PGSimpleDataSource pg = new PGSimpleDataSource();
        pg.setUrl(postgres.jdbcUrl());
        pg.setUser(postgres.user());
        pg.setPassword(postgres.password());
        ds = pg;
        try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
            s.execute("create table t (k text primary key, v int)");
        }
    }

    @AfterAll
    static void stop() throws Exception {
        postgres.close();
    }

    private static int count(Connection c, String where) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select count(*) from t where " + where)) {
            r.next();
            return r.getInt(1);
        }
    }

    private static void insertElsewhere(String k) throws SQLException {
        try (Connection other = ds.getConnection(); Statement s = other.createStatement()) {
            s.execute("insert into t values ('" + k + "', 1)");
        }
    }

    @Test
    void commitsWhenTheWorkReturnsAndRollsBackWhenItThrows() throws Exception {
        Jdbc.transaction(ds, c -> c.createStatement().executeUpdate("insert into t values ('kept', 1)"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Jdbc.transaction(ds, c -> {
            c.createStatement().executeUpdate("insert into t values ('gone', 1)");
            return c.createStatement().executeUpdate("insert into t values ('kept', 2)"); // duplicate key
        }));
        assertTrue(e.getCause() instanceof SQLException, "the SQLException is the cause");
        assertThrows(ArithmeticException.class, () -> Jdbc.transaction(ds, c -> {
            c.createStatement().executeUpdate("insert into t values ('gone2', 1)");
            return 1 / 0;
        }), "a runtime exception passes through unchanged");
        try (Connection c = ds.getConnection()) {
            assertEquals(1, count(c, "k = 'kept'"));
            assertEquals(0, count(c, "k like 'gone%'"), "nothing of a failed transaction stays");
        }
    }

    @Test
    void aSnapshotSeesTheDatabaseAsAtItsFirstStatementATransactionSeesCommits() throws Exception {
        int[] seen = Jdbc.snapshot(ds, c -> {
            int before = count(c, "k like 'snap%'");
            insertElsewhere("snap1");
            return new int[] {before, count(c, "k like 'snap%'")};
        });
        assertEquals(seen[0], seen[1], "a commit elsewhere is not seen inside the snapshot");
        int[] committed = Jdbc.transaction(ds, c -> {
            int before = count(c, "k like 'read%'");
            insertElsewhere("read1");
            return new int[] {before, count(c, "k like 'read%'")};
        });
        assertEquals(committed[0] + 1, committed[1], "READ COMMITTED sees it");
    }

    @Test
    void aSnapshotLeavesTheConnectionAsItFoundIt() throws Exception {
        try (Connection c = ds.getConnection()) {
            DataSource one = new SingleConnection(c);
            Jdbc.snapshot(one, x -> count(x, "true"));
            assertEquals(Connection.TRANSACTION_READ_COMMITTED, c.getTransactionIsolation());
        }
    }

    /** Hands out one connection and does not close it, like a pool returning the same one. */
    private record SingleConnection(Connection c) implements DataSource {
        @Override
        public Connection getConnection() {
            return (Connection) java.lang.reflect.Proxy.newProxyInstance(Connection.class.getClassLoader(),
                    new Class<?>[] {Connection.class}, (p, m, a) -> m.getName().equals("close") ? null : m.invoke(c, a));
        }

        @Override
        public Connection getConnection(String u, String p) {
            return getConnection();
        }

        @Override
        public java.io.PrintWriter getLogWriter() {
            return null;
        }

        @Override
        public void setLogWriter(java.io.PrintWriter out) {
        }

        @Override
        public void setLoginTimeout(int seconds) {
        }

        @Override
        public int getLoginTimeout() {
            return 0;
        }

        @Override
        public java.util.logging.Logger getParentLogger() {
            return null;
        }

        @Override
        public <T> T unwrap(Class<T> iface) {
            return null;
        }

        @Override
        public boolean isWrapperFor(Class<?> iface) {
            return false;
        }
    }
}
