package io.tlsgate.platform.db;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * The service's own PostgreSQL schema. The connection itself is Quarkus' standard
 * {@code quarkus.datasource.*} (default: devstack's {@code jdbc:postgresql://localhost:15432/tlsgate}).
 */
@ConfigMapping(prefix = "tlsgate.db")
public interface DbConfig {

    /** The schema this service owns (e.g. {@code policy}); its migrations live in {@code db/migration}. No default. */
    String schema();

    /** Whether pending Flyway migrations run when the service starts. Default: true. */
    @WithDefault("true")
    boolean migrateAtStart();
}
