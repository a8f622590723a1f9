package io.tlsgate.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;

/**
 * The services' REST APIs over HTTPS with the bearer token. Every answer that is not 2xx
 * becomes a {@link CliException}: 4xx with the problem's detail and each refused field
 * (exit 1), 5xx and unreachable services exit 3.
 */
public final class Api {

    public static final ObjectMapper JSON = new ObjectMapper();

    private final Settings settings;
    private final HttpClient http;

    public Api(Settings settings) {
        this.settings = settings;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(java.time.Duration.ofSeconds(10));
        if (settings.cacert() != null) {
            b.sslContext(context(settings));
        }
        this.http = b.build();
    }

    /** One answer: status, content type and body. */
    public record Reply(int status, String contentType, byte[] body) {
        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        public JsonNode json() {
            try {
                return body.length == 0 ? JSON.nullNode() : JSON.readTree(body);
            } catch (IOException e) {
                throw new CliException(CliException.UNAVAILABLE, "the answer is not JSON: " + e.getMessage());
            }
        }
    }

    /** A JSON request whose answer must be 2xx; returns the answer's JSON (null node when empty). */
    public JsonNode json(Service s, String method, String path, JsonNode body) {
        return send(s, method, path, body == null ? null : "application/json", body == null ? null : bytes(body),
                "application/json", Map.of()).json();
    }

    /** Any request whose answer must be 2xx. */
    public Reply send(Service s, String method, String path, String contentType, byte[] body, String accept,
            Map<String, String> headers) {
        HttpRequest.Builder b = request(s, path).header("Accept", accept);
        headers.forEach((name, value) -> header(b, name, value));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        HttpResponse<byte[]> r = call(s, b.build(), HttpResponse.BodyHandlers.ofByteArray());
        Reply reply = new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
        if (r.statusCode() / 100 != 2) {
            throw refused(s, reply);
        }
        return reply;
    }

    /**
     * A request answered with server-sent events: each event (name and data) goes to
     * {@code events} as it arrives.
     */
    public void events(Service s, String path, JsonNode body, Consumer<Event> events) {
        HttpRequest req = request(s, path).header("Accept", "text/event-stream").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes(body))).build();
        HttpResponse<InputStream> r = call(s, req, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
            if (r.statusCode() / 100 != 2) {
                throw refused(s, new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), in.readAllBytes()));
            }
            readEvents(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)), events);
        } catch (IOException e) {
            throw new CliException(CliException.UNAVAILABLE, s.title() + " broke off the answer: " + e.getMessage());
        }
    }

    /** One server-sent event. */
    public record Event(String name, String data) {}

    /** Reads server-sent events (the {@code event:} and {@code data:} fields; others ignored) until the end of the stream. */
    static void readEvents(BufferedReader in, Consumer<Event> events) throws IOException {
        String name = null;
        StringBuilder data = null;
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                if (data != null) {
                    events.accept(new Event(name == null ? "message" : name, data.toString()));
                }
                name = null;
                data = null;
            } else if (line.startsWith(":")) {
                continue;
            } else {
                int colon = line.indexOf(':');
                String field = colon < 0 ? line : line.substring(0, colon);
                String value = colon < 0 ? "" : line.substring(colon + 1);
                if (value.startsWith(" ")) {
                    value = value.substring(1);
                }
                if (field.equals("event")) {
                    name = value;
                } else if (field.equals("data")) {
                    data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
                }
            }
        }
        if (data != null) {
            events.accept(new Event(name == null ? "message" : name, data.toString()));
        }
    }

    /** {@code ?name=value&...} of the pairs whose value is not null, encoded; empty when none is. */
    public static String query(String... namesAndValues) {
        StringBuilder q = new StringBuilder();
        for (int i = 0; i + 1 < namesAndValues.length; i += 2) {
            if (namesAndValues[i + 1] != null) {
                q.append(q.length() == 0 ? '?' : '&').append(namesAndValues[i]).append('=').append(encode(namesAndValues[i + 1]));
            }
        }
        return q.toString();
    }

    /** A path segment or query value, percent-encoded. */
    public static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static byte[] bytes(JsonNode n) {
        try {
            return JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static ObjectNode object() {
        return JSON.createObjectNode();
    }

    /**
     * The exception for an answer that is not 2xx: a problem document's title, detail and
     * each field error, or the status and the start of the body.
     */
    static CliException refused(Service s, Reply r) {
        int code = r.status() >= 500 || r.status() < 400 ? CliException.UNAVAILABLE : CliException.REFUSED;
        List<String> lines = new ArrayList<>();
        String message = s.title() + " answered " + r.status();
        JsonNode p = null;
        if (r.contentType().contains("json") && r.body().length > 0) {
            try {
                p = JSON.readTree(r.body());
            } catch (IOException e) {
                p = null;
            }
        }
        if (p != null && p.isObject()) {
            if (p.hasNonNull("title")) {
                message += " " + p.get("title").asText();
            }
            if (p.hasNonNull("detail")) {
                message += ": " + p.get("detail").asText();
            }
            for (JsonNode e : p.path("errors")) {
                lines.add(e.path("field").asText() + ": " + e.path("message").asText());
            }
        } else if (r.status() == 401) {
            message += " Unauthorized: the token was not accepted (check --token, TLSGATE_TOKEN or the configuration file)";
        } else if (r.status() == 403) {
            message += " Forbidden: the token's role may not do this (docs/security.md)";
        } else if (r.body().length > 0) {
            String text = r.text().strip();
            message += ": " + (text.length() > 300 ? text.substring(0, 300) + "..." : text);
        }
        if (r.status() == 429) {
            lines.add("try again later (the service limits how often this may be done)");
        }
        return new CliException(code, message, lines);
    }

    private HttpRequest.Builder request(Service s, String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(settings.url(s) + path)).timeout(settings.timeout())
                .header("User-Agent", "tlsgate-cli");
        return header(b, "Authorization", "Bearer " + settings.requireToken());
    }

    /** A header, or a usage error that names it without repeating its value (a token must never be printed). */
    private static HttpRequest.Builder header(HttpRequest.Builder b, String name, String value) {
        try {
            return b.header(name, value);
        } catch (IllegalArgumentException e) {
            throw CliException.usage(name.equals("Authorization") ? "the API token holds characters a header cannot carry "
                    + "(a line break or non-ASCII): check --token, TLSGATE_TOKEN or the token file"
                    : name + ": holds characters a header cannot carry (a line break or non-ASCII)");
        }
    }

    private <T> HttpResponse<T> call(Service s, HttpRequest req, HttpResponse.BodyHandler<T> handler) {
        try {
            return http.send(req, handler);
        } catch (ConnectException e) {
            throw new CliException(CliException.UNAVAILABLE, "cannot reach " + s.title() + " at " + settings.url(s)
                    + ": connection refused (is it running? --" + s.key() + " or " + s.env() + " names where it is)");
        } catch (HttpTimeoutException e) {
            throw new CliException(CliException.UNAVAILABLE, s.title() + " at " + settings.url(s) + " did not answer within "
                    + settings.timeout().toSeconds() + " s (--timeout)");
        } catch (SSLException e) {
            throw new CliException(CliException.UNAVAILABLE, "TLS to " + s.title() + " at " + settings.url(s) + " failed: "
                    + e.getMessage() + (settings.cacert() == null ? " (give --cacert with the CA of its REST certificate)" : ""));
        } catch (IOException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new CliException(CliException.UNAVAILABLE, "cannot reach " + s.title() + " at " + settings.url(s) + ": " + c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(CliException.UNAVAILABLE, "interrupted");
        }
    }

    /** Trusts exactly the certificates of the PEM file (the CA of the REST certificates). */
    private static SSLContext context(Settings settings) {
        try (InputStream in = Files.newInputStream(settings.cacert())) {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                ks.setCertificateEntry("ca-" + i++, c);
            }
            if (i == 0) {
                throw CliException.usage("cacert: " + settings.cacert() + " holds no PEM certificate");
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (CliException e) {
            throw e;
        } catch (Exception e) {
            throw CliException.usage("cacert: " + settings.cacert() + " is not a PEM certificate file: " + e.getMessage());
        }
    }
}
