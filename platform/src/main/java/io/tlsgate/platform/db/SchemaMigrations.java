package io.tlsgate.platform.db;

import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.jboss.logging.Logger;

/**
 * Brings the service's schema up to date with Flyway before anything else starts (the
 * observer runs first). Each service keeps its own history table in its own schema, so four
 * services can share one database. Tables platform itself uses in every service (the event
 * outbox) come from platform's {@code db/platform} migrations, with their own history table. A failed migration stops the service: running against a
 * schema it does not understand would be worse.
 */
@ApplicationScoped
public class SchemaMigrations {

    private static final Logger LOG = Logger.getLogger(SchemaMigrations.class);

    private final DbConfig config;
    private final DataSource dataSource;

    SchemaMigrations(DbConfig config, DataSource dataSource) {
        this.config = config;
        this.dataSource = dataSource;
    }

    void migrate(@Observes @Priority(1) StartupEvent ignored) {
        if (!config.migrateAtStart()) {
            return;
        }
        MigrateResult r = flyway().migrate();
        LOG.infof("schema %s at version %s (%d migrations applied now)", config.schema(),
                r.targetSchemaVersion == null ? r.initialSchemaVersion : r.targetSchemaVersion, r.migrationsExecuted);
        MigrateResult p = platformFlyway().migrate();
        LOG.infof("schema %s: platform tables at version %s (%d migrations applied now)", config.schema(),
                p.targetSchemaVersion == null ? p.initialSchemaVersion : p.targetSchemaVersion, p.migrationsExecuted);
    }

    /** Platform's own tables in this service's schema (history table {@code platform_schema_history}). */
    Flyway platformFlyway() {
        return Flyway.configure(Thread.currentThread().getContextClassLoader())
                .dataSource(dataSource)
                .schemas(config.schema())
                .defaultSchema(config.schema())
                .createSchemas(true)
                .table("platform_schema_history")
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .locations("classpath:db/platform")
                .load();
    }

    /** The Flyway instance for this service's schema. */
    public Flyway flyway() {
        return Flyway.configure(Thread.currentThread().getContextClassLoader())
                .dataSource(dataSource)
                .schemas(config.schema())
                .defaultSchema(config.schema())
                .createSchemas(true)
                .locations("classpath:db/migration")
                .load();
    }
}
