package io.tlsgate.devstack;

import io.tlsgate.testkit.EmbeddedPostgresServer;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The whole tlsgate cluster on one machine, for development: an embedded PostgreSQL (data
 * kept in the data directory), a Kafka broker (KRaft, separate process, data kept too), then
 * policy-, cert-, delivery- and listener-service as separate processes. Waits until every
 * service's readiness check is UP, prints where everything is and the admin token, and on
 * SIGINT/SIGTERM stops everything it started, services first.
 *
 * <p>Security: for one developer's machine only. The embedded PostgreSQL trusts local
 * connections; the generated tokens are stored in a 0600 file in the data directory.
 */
public final class DevStack {

    /** The four services: module directory and default HTTP port; a service's gRPC port is its HTTP port + 10. */
    static final List<Map.Entry<String, Integer>> SERVICES = List.of(
            Map.entry("policy-service", 8081),
            Map.entry("cert-service", 8082),
            Map.entry("delivery-service", 8083),
            Map.entry("listener-service", 8084));
    static final int POSTGRES_PORT = 15432;
    static final int KAFKA_PORT = 19092;
    static final int KAFKA_CONTROLLER_PORT = 19093;
    /** A service's internal gRPC port is its HTTP port plus this (8081 -> 8091). */
    static final int GRPC_OFFSET = 10;
    /** The services that --replicas runs several of; replica i (from 1) has every port + i * {@link #REPLICA_STEP}. */
    static final List<String> REPLICATED = List.of("delivery-service", "listener-service");
    static final int REPLICA_STEP = 100;
    private static final Duration READY_TIMEOUT = Duration.ofMinutes(5);

    private final DevOptions options;
    private final PrintStream out;
    private final List<ChildProcess> children = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final Map<String, ChildProcess> services = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, String> baseEnv = new HashMap<>();
    private final Map<String, String> serviceEnv = new HashMap<>();
    /** The extra replicas started by --replicas, by process name, with their own settings. */
    private final Map<String, Map<String, String>> replicaSettings = new java.util.concurrent.ConcurrentHashMap<>();
    /** For the health checks: before devstack's certificate is assigned the services present the demo one. */
    private final HttpClient http = DevHttps.anyCertificate();
    private Path logs;
    private EmbeddedPostgresServer postgres;
    private ChildProcess kafka;
    private volatile boolean stopping;
    private boolean stopped;

    DevStack(DevOptions options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        Path root = Path.of(System.getProperty("tlsgate.root", ".")).toAbsolutePath().normalize();
        DevOptions options;
        try {
            options = DevOptions.parse(args, System.getenv(), root);
        } catch (DevOptions.UsageException e) {
            if (e.getMessage() != null) {
                System.err.println("devstack: " + e.getMessage());
            }
            System.err.print(DevOptions.USAGE);
            System.exit(e.getMessage() == null ? 0 : 2);
            return;
        }
        DevStack stack = new DevStack(options, System.out);
        Runtime.getRuntime().addShutdownHook(new Thread(stack::stop, "devstack-stop"));
        try {
            stack.start();
        } catch (Exception e) {
            System.err.println("devstack: " + e.getMessage());
            System.exit(1);
        }
        stack.watch();
    }

    void start() throws Exception {
        Path data = options.dataDir();
        Files.createDirectories(data);
        lockDataDir(data);
        for (Map.Entry<String, Integer> s : SERVICES) {
            Path jar = runJar(s.getKey());
            if (!Files.exists(jar)) {
                throw new IllegalStateException(jar + " is missing: build first (devstack/run does)");
            }
        }
        List<Integer> ports = new ArrayList<>();
        if (options.dbUrl().isEmpty()) {
            ports.add(options.port(POSTGRES_PORT));
        }
        if (options.kafka().isEmpty()) {
            ports.add(options.port(KAFKA_PORT));
            ports.add(options.port(KAFKA_CONTROLLER_PORT));
        }
        SERVICES.forEach(s -> {
            for (int i = 0; i < replicas(s.getKey()); i++) {
                ports.add(options.port(s.getValue() + i * REPLICA_STEP));
                if (!s.getKey().equals("listener-service")) {
                    ports.add(options.port(s.getValue() + i * REPLICA_STEP + GRPC_OFFSET));
                }
            }
        });
        for (int port : ports) {
            if (KafkaBroker.listening(port)) {
                throw new IllegalStateException("port " + port + " is already in use (another devstack? "
                        + "use --port-offset to run a second one)");
            }
        }
        DevSecrets secrets = DevSecrets.loadOrCreate(data);
        Path logs = data.resolve("logs");
        this.logs = logs;

        String dbUrl;
        String dbUser = options.dbUser();
        String dbPassword;
        if (options.dbUrl().isPresent()) {
            dbUrl = options.dbUrl().get();
            dbPassword = options.dbPassword().orElse("");
        } else {
            out.println("starting PostgreSQL on port " + options.port(POSTGRES_PORT) + " (data: " + data.resolve("postgres") + ")");
            postgres = EmbeddedPostgresServer.start(options.port(POSTGRES_PORT), data.resolve("postgres"),
                    data.resolve("postgres-runtime"), "tlsgate", dbUser, secrets.dbPassword());
            dbUrl = "jdbc:postgresql://localhost:" + postgres.port() + "/tlsgate";
            dbPassword = secrets.dbPassword();
        }

        String bootstrap;
        if (options.kafka().isPresent()) {
            bootstrap = options.kafka().get();
        } else {
            int port = options.port(KAFKA_PORT);
            out.println("starting Kafka on port " + port + " (data: " + data.resolve("kafka") + ")");
            startKafka();
            bootstrap = "localhost:" + port;
        }

        baseEnv.put("QUARKUS_DATASOURCE_JDBC_URL", dbUrl);
        baseEnv.put("QUARKUS_DATASOURCE_USERNAME", dbUser);
        baseEnv.put("QUARKUS_DATASOURCE_PASSWORD", dbPassword);
        // devstack's generated secrets are development secrets: the services accept them only with this.
        baseEnv.put("TLSGATE_DEV_MODE", "true");
        baseEnv.put("KAFKA_BOOTSTRAP_SERVERS", bootstrap);
        baseEnv.put("QUARKUS_CONFIG_LOCATIONS", secrets.file.toUri().toString());
        // Where the services find each other: their gRPC ports, on mutual TLS with identities from
        // cert-service's internal CA (each enrols with its token from the secrets file).
        String policy = "localhost:" + options.port(8081 + GRPC_OFFSET);
        String cert = "localhost:" + options.port(8082 + GRPC_OFFSET);
        baseEnv.put("TLSGATE_DELIVERY_POLICY_SERVICE", policy);
        baseEnv.put("TLSGATE_DELIVERY_CERT_SERVICE", cert);
        baseEnv.put("TLSGATE_LISTENER_POLICY_SERVICE", policy);
        baseEnv.put("TLSGATE_LISTENER_CERT_SERVICE", cert);
        // Every delivery replica: the listeners spread their messages over those that answer.
        List<String> deliveries = new ArrayList<>();
        for (int i = 0; i < replicas("delivery-service"); i++) {
            deliveries.add("localhost:" + options.port(8083 + i * REPLICA_STEP + GRPC_OFFSET));
        }
        baseEnv.put("TLSGATE_LISTENER_DELIVERY_SERVICE", String.join(",", deliveries));
        baseEnv.put("TLSGATE_INTERNAL_TLS_CERT_SERVICE", cert);
        // The SMTP listeners' ports (2525 for the default one) move with the stack's port offset.
        baseEnv.put("TLSGATE_LISTENER_PORT_OFFSET", String.valueOf(options.port(0)));
        baseEnv.putAll(serviceEnv);
        for (Map.Entry<String, Integer> s : SERVICES) {
            out.println("starting " + s.getKey() + " on port " + options.port(s.getValue()));
            services.put(s.getKey(), launch(s.getKey(), Map.of()));
        }
        for (Map.Entry<String, Integer> s : SERVICES) {
            awaitReady(s.getKey());
        }
        for (String service : REPLICATED) {
            for (int i = 1; i < replicas(service); i++) {
                String name = service + "-" + i;
                int port = httpPort(service) + i * REPLICA_STEP;
                out.println("starting " + name + " on port " + port);
                Map<String, String> env = new HashMap<>();
                if (service.equals("listener-service")) {
                    // The same listeners (from policy-service) on other ports: one machine, one address.
                    env.put("TLSGATE_LISTENER_PORT_OFFSET", String.valueOf(options.port(i * REPLICA_STEP)));
                }
                replicaSettings.put(name, env);
                ChildProcess p = launch(service, name, port, env);
                services.put(name, p);
                waitFor(name, () -> isUp(http, URI.create("https://localhost:" + port + "/q/health/ready")), p);
            }
        }
        out.println("assigning devstack's REST certificate (CA: " + DevHttps.caFile(data) + ")");
        DevHttps.ensure(data, secrets.adminToken(), options.port(8082),
                SERVICES.stream().flatMap(s -> java.util.stream.IntStream.range(0, replicas(s.getKey()))
                        .mapToObj(i -> options.port(s.getValue() + i * REPLICA_STEP))).toList());
        writeCliSettings(data, secrets);
        printTable(dbUrl, bootstrap, secrets, logs);
    }

    /**
     * The command line's settings for this devstack ({@code <data>/cli.properties}, mode 0600:
     * it holds the admin token); {@code bin/tlsgate} in this checkout reads it (docs/cli.md).
     */
    private void writeCliSettings(Path data, DevSecrets secrets) throws IOException {
        Path file = data.resolve("cli.properties");
        String text = "# Written by devstack/run: the tlsgate command line's settings for this devstack (docs/cli.md).\n"
                + "policy-url=https://localhost:" + options.port(8081) + "\n"
                + "cert-url=https://localhost:" + options.port(8082) + "\n"
                + "delivery-url=https://localhost:" + options.port(8083) + "\n"
                + "token=" + secrets.adminToken() + "\n"
                + "cacert=" + DevHttps.caFile(data).getFileName() + "\n";
        Files.deleteIfExists(file);
        Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, text);
    }

    /** Blocks until a child dies unexpectedly (then stops everything and exits 1) or the JVM is stopped. */
    void watch() throws InterruptedException {
        while (true) {
            for (ChildProcess c : children) {
                if (!c.isAlive() && !stopping) {
                    System.err.println("devstack: " + c.name + " exited with " + c.exitValue() + "; last lines of "
                            + c.log + ":\n" + c.tail(30));
                    System.exit(1);
                }
            }
            Thread.sleep(1000);
        }
    }

    /** Stops services (in reverse order), then Kafka, then PostgreSQL. Idempotent. */
    synchronized void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        stopping = true;
        out.println("stopping tlsgate devstack ...");
        List<ChildProcess> services = new ArrayList<>(children);
        services.remove(kafka);
        services.parallelStream().forEach(c -> c.stop(20));
        if (kafka != null) {
            kafka.stop(30);
        }
        children.clear();
        if (postgres != null) {
            try {
                postgres.close();
            } catch (IOException e) {
                System.err.println("devstack: stopping PostgreSQL: " + e.getMessage());
            }
            postgres = null;
        }
        out.println("stopped");
    }

    /** Extra environment for every service (tests use it to point delivery at loopback peers). */
    DevStack withServiceEnv(Map<String, String> env) {
        serviceEnv.putAll(env);
        return this;
    }

    /** A running service's process. */
    ChildProcess service(String name) {
        return services.get(name);
    }

    /** Starts a service again (after a kill or stop) with the same settings and waits until it is ready. */
    void restart(String name) throws Exception {
        restart(name, Map.of());
    }

    /** Starts a service again with some settings changed for this run only. */
    void restart(String name, Map<String, String> env) throws Exception {
        ChildProcess old = services.get(name);
        if (old != null && old.isAlive()) {
            old.stop(20);
        }
        children.remove(old);
        Map<String, String> own = replicaSettings.get(name);
        if (own == null) {
            services.put(name, launch(name, env));
        } else {
            Map<String, String> all = new HashMap<>(own);
            all.putAll(env);
            services.put(name, launch(name.substring(0, name.lastIndexOf('-')), name, processPort(name), all));
        }
        awaitReady(name);
    }

    /** How many processes of {@code service} this stack runs. */
    int replicas(String service) {
        return REPLICATED.contains(service) ? options.replicas() : 1;
    }

    /** The HTTP port of a service's process: {@code delivery-service-1} is replica 1 of delivery-service. */
    int processPort(String name) {
        if (replicaSettings.containsKey(name)) {
            String service = name.substring(0, name.lastIndexOf('-'));
            return httpPort(service) + Integer.parseInt(name.substring(name.lastIndexOf('-') + 1)) * REPLICA_STEP;
        }
        return httpPort(name);
    }

    /**
     * Starts one more replica of a service (another process on the same database and broker),
     * named {@code replica} (its log: {@code <replica>.log}), on {@code httpPort} (with the
     * port offset), with some settings of its own, and waits until it is ready. It is stopped
     * with the stack.
     */
    ChildProcess replica(String name, String replica, int httpPort, Map<String, String> env) throws Exception {
        int port = options.port(httpPort);
        ChildProcess p = launch(name, replica, port, env);
        URI ready = URI.create("https://localhost:" + port + "/q/health/ready");
        waitFor(replica, () -> isUp(http, ready), p);
        return p;
    }

    /**
     * Starts one more replica of a service from a command of the caller's (a container image's
     * entry point run in its unpacked file system), with this stack's settings for every service,
     * {@code env} on top and the HTTP and gRPC ports of {@code httpPort} (with the port offset).
     * Waits until it is ready; it is
     * stopped with the stack.
     */
    ChildProcess replicaFrom(String replica, int httpPort, List<String> command, Map<String, String> env) throws Exception {
        int port = options.port(httpPort);
        Map<String, String> all = new HashMap<>(baseEnv);
        all.putAll(env);
        all.put("QUARKUS_HTTP_PORT", String.valueOf(port));
        all.put("QUARKUS_GRPC_SERVER_PORT", String.valueOf(port + GRPC_OFFSET));
        ChildProcess p = ChildProcess.start(replica, command, all, options.root(), logs.resolve(replica + ".log"));
        children.add(p);
        URI ready = URI.create("https://localhost:" + port + "/q/health/ready");
        waitFor(replica, () -> isUp(http, ready), p);
        return p;
    }

    /** Stops the embedded Kafka broker (its data stays). */
    void stopKafka() {
        if (kafka != null) {
            kafka.stop(30);
            children.remove(kafka);
        }
    }

    /** Starts the embedded Kafka broker on its port, with its data (kept from earlier runs). */
    void startKafka() throws Exception {
        int port = options.port(KAFKA_PORT);
        kafka = KafkaBroker.start(options.dataDir().resolve("kafka"), port, options.port(KAFKA_CONTROLLER_PORT),
                logs.resolve("kafka.log"));
        children.add(kafka);
        waitFor("Kafka", () -> KafkaBroker.listening(port), kafka);
    }

    private ChildProcess launch(String name, Map<String, String> overrides) throws IOException {
        return launch(name, name, httpPort(name), overrides);
    }

    private ChildProcess launch(String name, String processName, int port, Map<String, String> overrides) throws IOException {
        Map<String, String> env = new HashMap<>(baseEnv);
        env.putAll(overrides);
        env.put("QUARKUS_HTTP_PORT", String.valueOf(port));
        env.put("QUARKUS_GRPC_SERVER_PORT", String.valueOf(port + GRPC_OFFSET));
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(javaOptions(name));
        // No client-initiated TLS renegotiation (a cheap DoS on the server, CVE-2011-1473). The
        // JDK reads this property once, when its first server-side handshake loads its handshake
        // code, so it has to be there from the JVM's start: on the command line, after the
        // developer's --java-opts so that they cannot turn it off by accident. listener-service
        // (STARTTLS) also sets it itself before Quarkus starts; harmless for the others.
        cmd.add("-Djdk.tls.rejectClientInitiatedRenegotiation=true");
        cmd.add("-jar");
        cmd.add(runJar(name).toString());
        ChildProcess p = ChildProcess.start(processName, cmd, env, options.root(), logs.resolve(processName + ".log"));
        children.add(p);
        return p;
    }

    /**
     * The JVM options for {@code service}: --java-opts as given, or with "shipped" the ones the
     * service ships with (deploy/jvm/SERVICE.options, one per line, '#' comments; none when absent).
     */
    private List<String> javaOptions(String service) throws IOException {
        if (!options.javaOpts().trim().equals("shipped")) {
            return Arrays.asList(options.javaOpts().trim().split("\\s+"));
        }
        Path file = options.root().resolve("deploy/jvm/" + service + ".options");
        if (!Files.exists(file)) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            String l = line.strip();
            if (!l.isEmpty() && !l.startsWith("#")) {
                out.add(l);
            }
        }
        return out;
    }

    private void awaitReady(String name) throws InterruptedException {
        URI ready = URI.create("https://localhost:" + processPort(name) + "/q/health/ready");
        waitFor(name, () -> isUp(http, ready), services.get(name));
    }

    private int httpPort(String service) {
        return options.port(SERVICES.stream().filter(e -> e.getKey().equals(service)).findFirst().orElseThrow().getValue());
    }

    private Path runJar(String service) {
        return options.root().resolve(service).resolve("target/quarkus-app/quarkus-run.jar");
    }

    private void waitFor(String what, java.util.function.BooleanSupplier ready, ChildProcess process)
            throws InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (!ready.getAsBoolean()) {
            if (!process.isAlive()) {
                throw new IllegalStateException(what + " exited with " + process.exitValue() + " while starting; last lines of "
                        + process.log + ":\n" + process.tail(30));
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + " not ready after " + READY_TIMEOUT.toSeconds() + "s; see " + process.log);
            }
            Thread.sleep(300);
        }
    }

    private static boolean isUp(HttpClient http, URI uri) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 && r.body().contains("\"UP\"");
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void printTable(String dbUrl, String bootstrap, DevSecrets secrets, Path logs) {
        StringBuilder b = new StringBuilder("\ntlsgate devstack is up (data: " + options.dataDir() + ")\n\n");
        b.append(String.format("  %-18s %-24s %-6s %-44s %s%n", "service", "REST", "gRPC", "readiness", "API docs"));
        for (Map.Entry<String, Integer> s : SERVICES) {
            for (int i = 0; i < replicas(s.getKey()); i++) {
                int port = options.port(s.getValue() + i * REPLICA_STEP);
                String base = "https://localhost:" + port;
                String grpc = s.getKey().equals("listener-service") ? "-" : String.valueOf(port + GRPC_OFFSET);
                b.append(String.format("  %-18s %-24s %-6s %-44s %s%n", s.getKey() + (i == 0 ? "" : "-" + i), base, grpc,
                        base + "/q/health/ready", base + "/q/swagger-ui/"));
            }
        }
        b.append(String.format("  %-18s %s (user %s)%n", "postgresql", dbUrl, options.dbUser()));
        b.append(String.format("  %-18s %s%n", "kafka", bootstrap));
        b.append(String.format("  %-18s %s%n", "smtp", "localhost:" + options.port(2525)
                + " (listener 'inbound'; a listener's port + " + options.port(0) + ")"));
        for (int i = 1; i < replicas("listener-service"); i++) {
            b.append(String.format("  %-18s %s%n", "smtp (replica " + i + ")", "localhost:" + options.port(2525 + i * REPLICA_STEP)
                    + " (a listener's port + " + options.port(i * REPLICA_STEP) + ")"));
        }
        b.append("\n  admin token: ").append(secrets.adminToken()).append('\n');
        b.append("  REST CA:     ").append(DevHttps.caFile(options.dataDir())).append(" (trust it for the REST ports)\n");
        b.append("  try: curl --cacert ").append(DevHttps.caFile(options.dataDir())).append(" -H 'Authorization: Bearer ")
                .append(secrets.adminToken())
                .append("' 'https://localhost:").append(options.port(8081))
                .append("/api/v1/destinations/resolve?domain=example.com'\n");
        b.append("       swaks --server localhost:").append(options.port(2525)).append(" --tls --to user@example.com"
                + "   (add example.com to the RAT first: docs/inbound-policy.md)\n");
        b.append("       bin/tlsgate dest list   (the command line; its settings: ")
                .append(options.dataDir().resolve("cli.properties")).append(", docs/cli.md)\n");
        b.append("\n  logs: ").append(logs).append("\n  Press Ctrl-C to stop everything.\n");
        out.print(b);
        out.flush();
    }

    private static void lockDataDir(Path data) throws IOException {
        FileChannel ch = FileChannel.open(data.resolve("devstack.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = ch.tryLock();
        if (lock == null) {
            throw new IllegalStateException("another devstack is running with data directory " + data
                    + " (use --data-dir and --port-offset for a second one)");
        }
        // Held until the JVM exits.
    }
}
