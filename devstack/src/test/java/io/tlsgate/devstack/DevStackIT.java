package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.tlsgate.testkit.TestPki;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
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
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The README's run command, as a developer uses it: {@code devstack/run} in its own session
 * (like a terminal), every service ready, 401 without and 200 with the printed token, Ctrl-C
 * (SIGINT to the process group) leaves no process behind, and a second start finds the data of
 * the first. Ports are shifted by 1000 so a developer's own devstack may keep running.
 */
class DevStackIT {

    private static final int OFFSET = 1000;
    private static final Pattern TOKEN = Pattern.compile("admin token: (\\S+)");
    /** Trusts only the CA devstack printed (set once the first start is up). */
    private HttpClient http;

    @Test
    void runCommandStartsTheClusterStopsCleanlyOnCtrlCAndKeepsDataAcrossRestarts() throws Exception {
        Path root = Path.of(System.getProperty("tlsgate.root", "..")).toAbsolutePath().normalize();
        Path data = Files.createTempDirectory("tlsgate-devstack-it-");
        String caPem = TestPki.selfSignedCa("DevStack IT CA", Duration.ofDays(2)).certificatePem();

        // First start: everything ready, auth enforced, a trusted CA stored.
        Running first = start(root, data);
        try {
            firstRun(first, data, caPem);
        } finally {
            kill(first);
        }
        Running second = start(root, data, "--replicas", "2");
        try {
            secondRun(first, second, data);
        } finally {
            kill(second);
        }
        try (var files = Files.walk(data)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    private void firstRun(Running first, Path data, String caPem) throws Exception {
        // REST is HTTPS with a certificate from the CA devstack printed; plain HTTP gets nothing.
        String printed = String.join("\n", first.output);
        assertTrue(printed.contains("REST CA:     " + DevHttps.caFile(data)), printed);
        assertTrue(printed.contains("curl --cacert " + DevHttps.caFile(data)), printed);
        http = DevHttps.verified(data);
        assertThrows(java.io.IOException.class, () -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://localhost:" + (8081 + OFFSET) + "/q/health/live")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString()));
        for (Map.Entry<String, Integer> s : DevStack.SERVICES) {
            HttpResponse<String> ready = get(s.getValue(), "/q/health/ready", null);
            assertEquals(200, ready.statusCode(), s.getKey() + " " + ready.body());
            assertTrue(ready.body().replaceAll("\\s", "").startsWith("{\"status\":\"UP\""), ready.body());
        }
        String api = "/api/v1/destinations/resolve?domain=example.com";
        assertEquals(401, get(8081, api, null).statusCode());
        assertEquals(200, get(8081, api, first.token).statusCode());
        HttpResponse<String> added = http.send(HttpRequest.newBuilder(uri(8082, "/api/v1/trusted-cas"))
                .header("Authorization", "Bearer " + first.token)
                .header("Content-Type", "application/x-pem-file")
                .POST(HttpRequest.BodyPublishers.ofString(caPem)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, added.statusCode(), added.body());

        // Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        Set<ProcessHandle> started = processesOf(first, data);
        assertTrue(started.size() >= 6, "expected Kafka, PostgreSQL and four services, saw " + started.size());
        signal("-INT", "-" + first.process.pid());
        assertTrue(first.process.waitFor(120, TimeUnit.SECONDS), "devstack did not stop on SIGINT");
        assertNoneLeft(started);
    }

    /**
     * Second start, with two listener and two delivery processes: same data directory, same
     * token, the CA is still there. Stop with SIGTERM.
     */
    private void secondRun(Running first, Running second, Path data) throws Exception {
        assertEquals(first.token, second.token);
        HttpResponse<String> cas = get(8082, "/api/v1/trusted-cas", second.token);
        assertEquals(200, cas.statusCode());
        assertTrue(cas.body().contains("CN=DevStack IT CA"), cas.body());
        // The first listener-service unregistered itself while PostgreSQL was still up: the
        // stop was ordered (services first), so only the two new replicas are listed.
        HttpResponse<String> instances = get(8084, "/api/v1/instances", second.token);
        assertEquals(2, instances.body().split("\"id\"", -1).length - 1, instances.body());
        String printed = String.join("\n", second.output);
        for (String replica : List.of("delivery-service-1", "listener-service-1")) {
            assertTrue(printed.contains(replica), printed);
        }
        for (int port : List.of(8083 + DevStack.REPLICA_STEP, 8084 + DevStack.REPLICA_STEP)) {
            assertEquals(200, get(port, "/q/health/ready", null).statusCode(), "replica on " + port);
        }
        Set<ProcessHandle> again = processesOf(second, data);
        signal("-TERM", String.valueOf(second.process.pid()));
        assertTrue(second.process.waitFor(120, TimeUnit.SECONDS), "devstack did not stop on SIGTERM");
        assertNoneLeft(again);
    }

    /** Whatever happened, leave nothing running (the test's own failure is reported, not this). */
    private static void kill(Running r) {
        if (r.process.isAlive() || r.process.toHandle().descendants().findAny().isPresent()) {
            r.process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            r.process.destroyForcibly();
        }
        ProcessHandle.allProcesses()
                .filter(h -> h.info().commandLine().map(c -> c.contains(r.dataDir.toString())).orElse(false))
                .forEach(ProcessHandle::destroyForcibly);
    }

    private record Running(Process process, String token, ConcurrentLinkedQueue<String> output, Path dataDir) {}

    private Running start(Path root, Path data, String... options) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("setsid", "bash", root.resolve("devstack/run").toString(),
                "--data-dir", data.toString(), "--port-offset", String.valueOf(OFFSET)));
        cmd.addAll(List.of(options));
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .directory(root.toFile())
                .redirectErrorStream(true);
        pb.environment().put("TLSGATE_DEV_SKIP_BUILD", "1");
        Process p = pb.start();
        ConcurrentLinkedQueue<String> lines = new ConcurrentLinkedQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    lines.add(l);
                    System.out.println("[devstack] " + l);
                }
            } catch (IOException ignored) {
                // process gone
            }
        });
        reader.setDaemon(true);
        reader.start();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(6);
        while (System.nanoTime() < deadline) {
            if (lines.stream().anyMatch(l -> l.contains("Press Ctrl-C"))) {
                String token = lines.stream().map(TOKEN::matcher).filter(Matcher::find).map(m -> m.group(1))
                        .findFirst().orElse(null);
                assertNotNull(token, "no admin token printed");
                return new Running(p, token, lines, data);
            }
            if (!p.isAlive()) {
                fail("devstack exited with " + p.exitValue() + ":\n" + String.join("\n", lines));
            }
            Thread.sleep(500);
        }
        p.destroyForcibly();
        fail("devstack not up in time:\n" + String.join("\n", lines));
        return null;
    }

    /** devstack's descendants plus any process naming the data directory (the PostgreSQL server). */
    private static Set<ProcessHandle> processesOf(Running r, Path data) {
        Set<ProcessHandle> all = r.process.toHandle().descendants().collect(Collectors.toSet());
        ProcessHandle.allProcesses()
                .filter(h -> h.info().commandLine().map(c -> c.contains(data.toString())).orElse(false))
                .forEach(all::add);
        all.add(r.process.toHandle());
        return all;
    }

    private static void assertNoneLeft(Set<ProcessHandle> processes) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        List<ProcessHandle> alive = new ArrayList<>(processes);
        while (System.nanoTime() < deadline) {
            alive.removeIf(h -> !h.isAlive());
            if (alive.isEmpty()) {
                return;
            }
            Thread.sleep(200);
        }
        fail("processes left after stop: " + alive.stream()
                .map(h -> h.pid() + " " + h.info().commandLine().orElse("?")).collect(Collectors.joining("\n")));
    }

    private static void signal(String sig, String target) throws Exception {
        Process kill = new ProcessBuilder("kill", sig, "--", target).inheritIO().start();
        assertEquals(0, kill.waitFor());
    }

    private HttpResponse<String> get(int basePort, String path, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(basePort, path)).timeout(Duration.ofSeconds(10));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static URI uri(int basePort, String path) {
        return URI.create("https://localhost:" + (basePort + OFFSET) + path);
    }
}
