package io.tlsgate.devstack;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Command-line options of devstack, each with an environment variable that does the same.
 * Options win over the environment.
 *
 * @param root the repository (services are run from its modules' target/quarkus-app)
 * @param dataDir where PostgreSQL and Kafka data, secrets and logs are kept across restarts
 * @param portOffset added to every default port (to run a second stack beside the first)
 * @param dbUrl an external PostgreSQL instead of the embedded one
 * @param kafka an external Kafka bootstrap address instead of the embedded broker
 * @param replicas how many processes of listener- and delivery-service each (the others run one)
 */
record DevOptions(Path root, Path dataDir, int portOffset, Optional<String> dbUrl, String dbUser,
        Optional<String> dbPassword, Optional<String> kafka, String javaOpts, int replicas) {

    /** Most replicas of a service devstack starts (their ports are 100 apart). */
    static final int MAX_REPLICAS = 5;

    static final String USAGE = """
            usage: devstack/run [options]
              --data-dir DIR       data, secrets and logs, kept across restarts   [TLSGATE_DEV_DATA, default <repo>/.devstack]
              --port-offset N      add N to every port (15432, 19092, 8081-8084)  [TLSGATE_DEV_PORT_OFFSET, default 0]
              --db-url JDBC_URL    use this PostgreSQL instead of the embedded one [TLSGATE_DEV_DB_URL]
              --db-user USER       its user                                       [TLSGATE_DEV_DB_USER, default tlsgate]
              --db-password PW     its password                                   [TLSGATE_DEV_DB_PASSWORD]
              --kafka HOST:PORT    use this Kafka instead of the embedded broker  [TLSGATE_DEV_KAFKA]
              --replicas N         run N listener- and N delivery-service processes [TLSGATE_DEV_REPLICAS, default 1]
                                   (replica i, from 1: ports + 100*i, SMTP too; 1 to 5)
              --java-opts OPTS     JVM options of each service                    [TLSGATE_DEV_JAVA_OPTS]
                                   default: fast start (-Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1);
                                   "shipped": each service's deploy/jvm/<service>.options (none: JVM defaults)
            """;

    static DevOptions parse(String[] args, Map<String, String> env, Path root) {
        String data = env.get("TLSGATE_DEV_DATA");
        String offset = env.getOrDefault("TLSGATE_DEV_PORT_OFFSET", "0");
        String dbUrl = env.get("TLSGATE_DEV_DB_URL");
        String dbUser = env.getOrDefault("TLSGATE_DEV_DB_USER", "tlsgate");
        String dbPassword = env.get("TLSGATE_DEV_DB_PASSWORD");
        String kafka = env.get("TLSGATE_DEV_KAFKA");
        String replicas = env.getOrDefault("TLSGATE_DEV_REPLICAS", "1");
        String javaOpts = env.getOrDefault("TLSGATE_DEV_JAVA_OPTS", "-Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1");
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                throw new UsageException(null);
            }
            if (i + 1 >= args.length) {
                throw new UsageException("missing value after " + a);
            }
            String v = args[++i];
            switch (a) {
                case "--data-dir" -> data = v;
                case "--port-offset" -> offset = v;
                case "--db-url" -> dbUrl = v;
                case "--db-user" -> dbUser = v;
                case "--db-password" -> dbPassword = v;
                case "--kafka" -> kafka = v;
                case "--java-opts" -> javaOpts = v;
                case "--replicas" -> replicas = v;
                default -> throw new UsageException("unknown option " + a);
            }
        }
        int portOffset;
        try {
            portOffset = Integer.parseInt(offset.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--port-offset: not a number: " + offset);
        }
        if (portOffset < 0 || portOffset > 40000) {
            throw new UsageException("--port-offset: must be between 0 and 40000");
        }
        int replicaCount;
        try {
            replicaCount = Integer.parseInt(replicas.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--replicas: not a number: " + replicas);
        }
        if (replicaCount < 1 || replicaCount > MAX_REPLICAS) {
            throw new UsageException("--replicas: must be between 1 and " + MAX_REPLICAS);
        }
        Path dataDir = data == null || data.isBlank() ? root.resolve(".devstack") : Path.of(data);
        return new DevOptions(root, dataDir.toAbsolutePath().normalize(), portOffset,
                Optional.ofNullable(blankToNull(dbUrl)), dbUser, Optional.ofNullable(blankToNull(dbPassword)),
                Optional.ofNullable(blankToNull(kafka)), javaOpts, replicaCount);
    }

    int port(int base) {
        return base + portOffset;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    /** Bad command line; the message (null for --help) is printed with the usage. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
