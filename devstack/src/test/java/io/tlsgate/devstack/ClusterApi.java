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

/** The REST APIs and mail logs of a devstack started at a port offset, as the cluster tests use them. */
final class ClusterApi {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern MAIL_LOG = Pattern.compile(".*\\[io\\.tlsgate\\.maillog\\] \\([^)]*\\) (.*)$");
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

    private final Path data;
    private final int offset;
    private DevSecrets secrets;

    ClusterApi(Path data, int offset) {
        this.data = data;
        this.offset = offset;
    }

    /** A call as the admin; {@code basePort} is the service's port without the offset (8081...). */
    HttpResponse<String> send(String method, int basePort, String path, String type, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://localhost:" + (basePort + offset) + path))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + secrets().adminToken());
        if (type != null) {
            b.header("Content-Type", type);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
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

    DevSecrets secrets() throws java.io.IOException {
        if (secrets == null) {
            secrets = DevSecrets.loadOrCreate(data);
        }
        return secrets;
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
