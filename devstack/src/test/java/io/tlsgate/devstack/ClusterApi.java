package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A devstack for a cluster test: started in a temporary data directory at a port offset, and
 * its REST APIs, mail logs and Kafka address as the tests use them. {@link #close()} stops it
 * and deletes the data.
 */
final class ClusterApi implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern MAIL_LOG = Pattern.compile(".*\\[io\\.tlsgate\\.maillog\\] \\([^)]*\\) (.*)$");
    private HttpClient https;

    private final Path data;
    private final int offset;
    private final DevStack stack;
    private DevSecrets secrets;

    private ClusterApi(Path data, int offset, DevStack stack) {
        this.data = data;
        this.offset = offset;
        this.stack = stack;
    }

    /**
     * Puts a message straight into delivery-service's queue over gRPC Enqueue (as the listener
     * does, without its checks) and returns its MID.
     */
    static long enqueue(io.grpc.ManagedChannel delivery, String from, List<String> to, byte[] content) {
        return enqueue(delivery, from, to, content, false);
    }

    /** As {@link #enqueue(io.grpc.ManagedChannel, String, List, byte[])}; {@code requireTls}: as if MAIL FROM said REQUIRETLS. */
    static long enqueue(io.grpc.ManagedChannel delivery, String from, List<String> to, byte[] content, boolean requireTls) {
        java.util.concurrent.CompletableFuture<io.tlsgate.proto.delivery.v1.EnqueueReply> reply =
                new java.util.concurrent.CompletableFuture<>();
        io.grpc.stub.StreamObserver<io.tlsgate.proto.delivery.v1.EnqueueChunk> req = io.tlsgate.proto.delivery.v1.DeliveryServiceGrpc
                .newStub(delivery).enqueue(new io.grpc.stub.StreamObserver<>() {
                    @Override
                    public void onNext(io.tlsgate.proto.delivery.v1.EnqueueReply value) {
                        reply.complete(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        reply.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        reply.completeExceptionally(new IllegalStateException("completed without a reply"));
                    }
                });
        req.onNext(io.tlsgate.proto.delivery.v1.EnqueueChunk.newBuilder().setEnvelope(io.tlsgate.proto.delivery.v1.Envelope
                .newBuilder().setMailFrom(from).addAllRcptTo(to).setIcid(1).setListener("inbound").setRequireTls(requireTls)).build());
        req.onNext(io.tlsgate.proto.delivery.v1.EnqueueChunk.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(content))
                .build());
        req.onCompleted();
        try {
            return reply.get(60, java.util.concurrent.TimeUnit.SECONDS).getMid();
        } catch (Exception e) {
            throw new AssertionError("Enqueue failed: " + e, e);
        }
    }

    /** A gRPC channel to this stack's delivery-service, as listener-service (the only service that may queue mail). */
    io.grpc.ManagedChannel deliveryChannel() throws Exception {
        return grpc(8083, "listener-service", "delivery-service");
    }

    /**
     * A gRPC channel over mutual TLS to the service whose HTTP port is {@code basePort}
     * (without the offset), holding {@code asService}'s identity from the cluster's internal CA.
     */
    io.grpc.ManagedChannel grpc(int basePort, String asService, String toService) throws Exception {
        ClusterIdentities.Enrolled id = identity(asService);
        return io.tlsgate.testkit.GrpcChannels.open("localhost", grpcPort(basePort), id.identity(), id.ca(), toService);
    }

    /** {@code service}'s identity, enrolled once with its token from the secrets file. */
    synchronized ClusterIdentities.Enrolled identity(String service) throws Exception {
        ClusterIdentities.Enrolled id = identities.get(service);
        if (id == null) {
            id = ClusterIdentities.enroll(grpcPort(8082), service, secrets().enrollmentToken(service));
            identities.put(service, id);
        }
        return id;
    }

    /** The gRPC port of the service whose HTTP port is {@code basePort} (without the offset). */
    int grpcPort(int basePort) {
        return port(basePort + DevStack.GRPC_OFFSET);
    }

    /**
     * Starts PostgreSQL, Kafka and the four services at {@code offset}, with {@code env} for
     * every service and devstack's command-line {@code options} (such as {@code --replicas 2}).
     */
    static ClusterApi start(String name, int offset, java.util.Map<String, String> env, String... options) throws Exception {
        Path repo = Path.of(System.getProperty("tlsgate.root", "..")).toAbsolutePath().normalize();
        Path data = Files.createTempDirectory("tlsgate-" + name + "-it-");
        List<String> args = new ArrayList<>(List.of("--data-dir", data.toString(), "--port-offset", String.valueOf(offset)));
        args.addAll(List.of(options));
        DevStack stack = new DevStack(DevOptions.parse(args.toArray(String[]::new), java.util.Map.of(), repo),
                new java.io.PrintStream(System.out, true)).withServiceEnv(env);
        ClusterApi api = new ClusterApi(data, offset, stack);
        try {
            stack.start();
        } catch (Exception | Error e) {
            api.close();
            throw e;
        }
        return api;
    }

    /**
     * Closes each of {@code resources} in order, skipping nulls, all of them even when one
     * fails; then throws the first failure (the others suppressed in it).
     */
    static void closeAll(AutoCloseable... resources) throws Exception {
        Exception failed = null;
        for (AutoCloseable r : resources) {
            if (r == null) {
                continue;
            }
            try {
                r.close();
            } catch (Exception e) {
                if (failed == null) {
                    failed = e;
                } else {
                    failed.addSuppressed(e);
                }
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    /**
     * The one {@code type} of this test run, for a {@code BeforeAllCallback}: {@code start}
     * makes it for the first test class that asks; it stays in the store of the root extension
     * context, whose end (the end of the run) closes it. Failsafe runs every IT class in one
     * JVM and one run, so that is once per {@code verify}.
     */
    static <T extends AutoCloseable> T oncePerRun(org.junit.jupiter.api.extension.ExtensionContext context, Class<T> type,
            java.util.concurrent.Callable<T> start) {
        return context.getRoot().getStore(org.junit.jupiter.api.extension.ExtensionContext.Namespace.create(type))
                .computeIfAbsent(type, k -> {
                    try {
                        return start.call();
                    } catch (Exception e) {
                        throw new IllegalStateException(type.getSimpleName() + " did not start", e);
                    }
                }, type);
    }

    /** {@code cluster}, unless it is null: then the test class lacks {@code @ExtendWith(extension)}. */
    static <T> T started(T cluster, Class<?> extension) {
        if (cluster == null) {
            throw new IllegalStateException("no cluster: the test class needs @ExtendWith(" + extension.getCanonicalName() + ".class)");
        }
        return cluster;
    }

    /** A free port on the loopback address {@code address}. */
    static int freePort(String address) throws java.io.IOException {
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(address))) {
            return probe.getLocalPort();
        }
    }

    /**
     * The settings of a cluster whose delivery-service sends to the tests' peers: DNS from
     * {@code dnsServer}, MX hosts on loopback addresses, SMTP to {@code smtpPort} (the same on
     * each peer's address) as gateway.tlsgate.test, and a look at the queue every 200 ms.
     */
    static java.util.Map<String, String> outboundEnv(String dnsServer, int smtpPort) {
        java.util.Map<String, String> env = new java.util.HashMap<>();
        env.put("TLSGATE_DNS_SERVER", dnsServer);
        // The tests' MX hosts listen on loopback addresses.
        env.put("TLSGATE_DELIVERY_MX_LOCAL_ADDRESSES", "true");
        env.put("TLSGATE_DELIVERY_SMTP_PORT", String.valueOf(smtpPort));
        env.put("TLSGATE_DELIVERY_HELO_NAME", "gateway.tlsgate.test");
        env.put("TLSGATE_DELIVERY_POLL_INTERVAL", "200ms");
        return env;
    }

    /**
     * The settings of a cluster whose listeners take mail from the tests' clients on loopback:
     * reverse DNS from {@code dns}, and a hosts file that answers first, both ways (127.0.0.1 is
     * localhost, forward-confirmed); mail to loopback next hops is allowed.
     */
    static java.util.Map<String, String> inboundEnv(io.tlsgate.testkit.TestDnsServer dns) throws java.io.IOException {
        java.util.Map<String, String> env = new java.util.HashMap<>();
        env.put("TLSGATE_DNS_SERVER", dns.address());
        Path hosts = Files.createTempFile("tlsgate-it-hosts", "");
        hosts.toFile().deleteOnExit();
        Files.writeString(hosts, "127.0.0.1 localhost\n::1 localhost\n");
        env.put("TLSGATE_DNS_HOSTS_FILE", hosts.toString());
        env.put("TLSGATE_DELIVERY_MX_LOCAL_ADDRESSES", "true");
        env.put("TLSGATE_DELIVERY_POLL_INTERVAL", "200ms");
        return env;
    }

    /** A bounce profile {@code name} whose first retry is an hour away (none within a test), without DSNs. */
    void hourlyRetryProfile(String name) throws Exception {
        ok("POST", 8081, "/api/v1/bounce-profiles", "{\"name\":\"" + name + "\",\"maxRetries\":5,\"maxTimeInQueueSeconds\":86400,"
                + "\"initialRetrySeconds\":3600,\"maxRetrySeconds\":3600,\"sendHardBounces\":false,\"sendDelayWarnings\":false}");
    }

    DevStack stack() {
        return stack;
    }

    Path data() {
        return data;
    }

    @Override
    public void close() throws java.io.IOException {
        stack.stop();
        try (var files = Files.walk(data)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    /** A call as the admin; {@code basePort} is the service's port without the offset (8081...). */
    HttpResponse<String> send(String method, int basePort, String path, String type, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://localhost:" + (basePort + offset) + path))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + secrets().adminToken());
        if (type != null) {
            b.header("Content-Type", type);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return https().send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A JSON call that must succeed (2xx); returns the body. */
    String ok(String method, int basePort, String path, String json) throws Exception {
        return ok(send(method, basePort, path, json == null ? null : "application/json", json));
    }

    JsonNode get(int basePort, String path) throws Exception {
        return JSON.readTree(ok(send("GET", basePort, path, null, null)));
    }

    static String ok(HttpResponse<String> r) {
        assertTrue(r.statusCode() / 100 == 2, r.statusCode() + " " + r.request().uri() + ": " + r.body());
        return r.body();
    }

    private final java.util.Map<String, ClusterIdentities.Enrolled> identities = new java.util.HashMap<>();

    DevSecrets secrets() throws java.io.IOException {
        if (secrets == null) {
            secrets = DevSecrets.loadOrCreate(data);
        }
        return secrets;
    }

    /** An HTTP client trusting only the CA devstack made for its REST certificate. */
    synchronized HttpClient https() throws Exception {
        if (https == null) {
            https = DevHttps.verified(data);
        }
        return https;
    }

    /** The directory of the services' logs. */
    Path logs() {
        return data.resolve("logs");
    }

    String kafka() {
        return "localhost:" + (DevStack.KAFKA_PORT + offset);
    }

    int port(int base) {
        return base + offset;
    }

    /** The mail-log lines (without timestamp and level) a service wrote so far. */
    List<String> mailLog(String service) throws Exception {
        List<String> out = new ArrayList<>();
        for (String l : Files.readAllLines(data.resolve("logs").resolve(service + ".log"), StandardCharsets.UTF_8)) {
            Matcher m = MAIL_LOG.matcher(l);
            if (m.matches()) {
                out.add(m.group(1));
            }
        }
        return out;
    }
}
