package io.tlsgate.testkit;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;

/**
 * An HTTPS server on loopback for what the outside world serves over HTTPS (MTA-STS policy
 * hosts, report endpoints): the JDK's own server with a test certificate, answering each
 * {@code Host} as told; what is not set gets 404. Counts the requests per host.
 */
public final class TestHttpsServer implements AutoCloseable {

    /** One answer: status, Content-Type (null: none), body, and how long to wait before it. */
    public record Response(int status, String contentType, String body, Duration delay, Map<String, String> headers) {

        public static Response text(String body) {
            return new Response(200, "text/plain", body, Duration.ZERO, Map.of());
        }

        public Response withDelay(Duration d) {
            return new Response(status, contentType, body, d, headers);
        }
    }

    private final HttpsServer server;
    private final Map<String, Response> responses = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> hits = new ConcurrentHashMap<>();
    private final java.util.List<Request> requests = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** A request as received: method, Host (without port), path, Content-Type and body. */
    public record Request(String method, String host, String path, String contentType, byte[] body) {}

    /** A server on {@code address:port} (0: any free port) presenting {@code tls}'s certificate. */
    public TestHttpsServer(String address, int port, SSLContext tls) throws IOException {
        server = HttpsServer.create(new InetSocketAddress(address, port), 50);
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        server.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "test-https");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/", exchange -> {
            String host = exchange.getRequestHeaders().getFirst("Host");
            host = host == null ? "" : host.replaceFirst(":\\d+$", "");
            hits.computeIfAbsent(host, h -> new AtomicInteger()).incrementAndGet();
            byte[] sent = exchange.getRequestBody().readNBytes(1 << 20);
            requests.add(new Request(exchange.getRequestMethod(), host, exchange.getRequestURI().getPath(),
                    exchange.getRequestHeaders().getFirst("Content-Type"), sent));
            Response r = responses.get(host + exchange.getRequestURI().getPath());
            if (r == null) {
                r = new Response(404, "text/plain", "not found\n", Duration.ZERO, Map.of());
            }
            try {
                Thread.sleep(r.delay().toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
            if (r.contentType() != null) {
                exchange.getResponseHeaders().set("Content-Type", r.contentType());
            }
            r.headers().forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
            exchange.sendResponseHeaders(r.status(), body.length == 0 ? -1 : body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            } catch (IOException e) {
                // the client went away (a time-out on its side)
            }
        });
        server.start();
    }

    /** Every request so far, in order (bodies up to 1 MiB). */
    public java.util.List<Request> requests() {
        return java.util.List.copyOf(requests);
    }

    /** Answers GET {@code https://host/path} with {@code r} from now on. */
    public TestHttpsServer respond(String host, String path, Response r) {
        responses.put(host + path, r);
        return this;
    }

    /** Forgets the answer for {@code host} and {@code path} (404 again). */
    public TestHttpsServer forget(String host, String path) {
        responses.remove(host + path);
        return this;
    }

    /** Requests for {@code host} so far. */
    public int hits(String host) {
        AtomicInteger n = hits.get(host);
        return n == null ? 0 : n.get();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
