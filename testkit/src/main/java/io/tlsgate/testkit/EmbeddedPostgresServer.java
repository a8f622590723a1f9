package io.tlsgate.testkit;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * A real PostgreSQL 15 server from the embedded binaries (no Docker), with a database and a
 * login role for tlsgate. Used by the tests (throwaway data) and by devstack (data kept in a
 * directory across restarts). As root the binaries run in a user namespace ({@code unshare
 * -U}), which the library does by itself.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {

    private final EmbeddedPostgres postgres;
    private final String database;
    private final String user;
    private final String password;

    private EmbeddedPostgresServer(EmbeddedPostgres postgres, String database, String user, String password) {
        this.postgres = postgres;
        this.database = database;
        this.user = user;
        this.password = password;
    }

    /**
     * Starts a server.
     *
     * @param port TCP port on loopback; 0 picks a free one
     * @param dataDir the cluster's data directory; an existing cluster there is reused
     * @param workDir where the binaries are unpacked (kept between runs to save time)
     * @param database created (with {@code user} as owner) when missing
     */
    public static EmbeddedPostgresServer start(int port, Path dataDir, Path workDir, String database, String user,
            String password) throws IOException, SQLException {
        Files.createDirectories(dataDir.getParent());
        Files.createDirectories(workDir);
        EmbeddedPostgres.Builder b = EmbeddedPostgres.builder()
                .setDataDirectory(dataDir)
                .setCleanDataDirectory(false)
                // The owner stops it (devstack after the services, tests at JVM exit), in order.
                .setRegisterShutdownHook(false)
                .setOverrideWorkingDirectory(workDir.toFile())
                .setPGStartupWait(Duration.ofSeconds(60))
                .setServerConfig("listen_addresses", "127.0.0.1")
                .setServerConfig("max_connections", "200")
                .setServerConfig("fsync", "on");
        if (port > 0) {
            b.setPort(port);
        }
        EmbeddedPostgres pg = b.start();
        EmbeddedPostgresServer server = new EmbeddedPostgresServer(pg, database, user, password);
        server.ensureDatabase();
        return server;
    }

    private void ensureDatabase() throws SQLException {
        try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            try (ResultSet r = s.executeQuery("select 1 from pg_roles where rolname = '" + ident(user) + "'")) {
                if (!r.next()) {
                    s.execute("create role \"" + ident(user) + "\" login password '" + password.replace("'", "''") + "'");
                }
            }
            try (ResultSet r = s.executeQuery("select 1 from pg_database where datname = '" + ident(database) + "'")) {
                if (!r.next()) {
                    s.execute("create database \"" + ident(database) + "\" owner \"" + ident(user) + "\"");
                }
            }
        }
    }

    private static String ident(String s) {
        if (!s.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("not a plain SQL identifier: " + s);
        }
        return s;
    }

    /** A new connection to the tlsgate database as the tlsgate role. */
    public java.sql.Connection connect() throws SQLException {
        return java.sql.DriverManager.getConnection(jdbcUrl(), user, password);
    }

    public int port() {
        return postgres.getPort();
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port() + "/" + database;
    }

    public String user() {
        return user;
    }

    public String password() {
        return password;
    }

    @Override
    public void close() throws IOException {
        postgres.close();
    }
}
