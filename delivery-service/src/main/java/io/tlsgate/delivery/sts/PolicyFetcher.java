package io.tlsgate.delivery.sts;

import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.delivery.smtp.LocalAddresses;
import io.tlsgate.platform.dns.MxResolver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * Fetches {@code https://mta-sts.<domain>/.well-known/mta-sts.txt} (RFC 8461 §3.3): the host
 * found through tlsgate's own DNS (never a loopback or local address unless MX hosts may be
 * local), its certificate verified against the trust anchors of the verify modes and for the
 * host name, no redirects followed, status 200 and {@code text/plain} only, at most
 * {@code maxSize} bytes and {@code timeout} for everything.
 */
final class PolicyFetcher {

    /** Why a fetch failed, as RFC 8460 names it, and the details. */
    static final class Failure extends Exception {
        final TlsResultType type;

        Failure(TlsResultType type, String detail) {
            super(detail, null, false, false);
            this.type = type;
        }
    }

    private static final int MAX_HEADER = 16 * 1024;
    /**
     * Closes a fetch's socket when its time is up: a read's own time-out restarts with every
     * byte (and the TLS layer makes several reads per record), so only this bounds a server that
     * sends one byte at a time.
     */
    private static final java.util.concurrent.ScheduledExecutorService WATCHDOG =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "mta-sts-fetch-deadline");
                t.setDaemon(true);
                return t;
            });

    private final MxResolver dns;
    private final int port;
    private final Duration timeout;
    private final int maxSize;
    private final boolean mayBeLocal;

    PolicyFetcher(MxResolver dns, int port, Duration timeout, int maxSize, boolean mayBeLocal) {
        this.dns = dns;
        this.port = port;
        this.timeout = timeout;
        this.maxSize = maxSize;
        this.mayBeLocal = mayBeLocal;
    }

    /** The policy text of {@code domain}, its host's certificate checked against {@code anchors}. */
    String fetch(String domain, List<X509Certificate> anchors) throws Failure {
        String host = "mta-sts." + domain;
        long deadline = System.nanoTime() + timeout.toNanos();
        List<InetAddress> addresses = dns.addresses(host);
        if (addresses.isEmpty()) {
            throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, host + " has no address");
        }
        if (!mayBeLocal && addresses.stream().anyMatch(LocalAddresses::isLocal)) {
            throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, host + " points at a local address: not used");
        }
        SSLContext tls = context(anchors);
        Failure last = null;
        for (InetAddress a : addresses) {
            try {
                return get(tls, host, a, deadline);
            } catch (Failure f) {
                if (f.type != TlsResultType.STS_POLICY_FETCH_ERROR || System.nanoTime() > deadline) {
                    throw f; // the host answered: another address of it would say the same
                }
                last = f;
            }
        }
        throw last;
    }

    private String get(SSLContext tls, String host, InetAddress address, long deadline) throws Failure {
        String where = host + " (" + address.getHostAddress() + ":" + port + ")";
        Socket raw = new Socket();
        java.util.concurrent.ScheduledFuture<?> watchdog = WATCHDOG.schedule(() -> {
            try {
                raw.close();
            } catch (IOException ignored) {
                // closing is all that is wanted
            }
        }, Math.max(0, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS);
        try (raw) {
            raw.connect(new InetSocketAddress(address, port), remaining(deadline, where));
            raw.setSoTimeout(remaining(deadline, where));
            try (SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(raw, host, port, true)) {
                SSLParameters p = s.getSSLParameters();
                p.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
                p.setServerNames(List.of(new SNIHostName(host)));
                p.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must name the host
                s.setSSLParameters(p);
                try {
                    s.startHandshake();
                } catch (SSLHandshakeException e) {
                    // The certificate (chain or name): sts-webpki-invalid; anything else is a failed fetch.
                    boolean certificate = e.getCause() instanceof java.security.cert.CertificateException;
                    throw new Failure(certificate ? TlsResultType.STS_WEBPKI_INVALID : TlsResultType.STS_POLICY_FETCH_ERROR,
                            where + ": " + e.getMessage());
                }
                OutputStream out = s.getOutputStream();
                out.write(("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: tlsgate\r\n"
                        + "Accept: text/plain\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                return response(s, where, deadline);
            }
        } catch (SocketTimeoutException e) {
            throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": no answer within " + timeout.toMillis() + " ms");
        } catch (IOException e) {
            String why = System.nanoTime() - deadline >= 0 ? "the fetch took longer than " + timeout.toMillis() + " ms"
                    : e.getMessage();
            throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": " + why);
        } finally {
            watchdog.cancel(false);
        }
    }

    private String response(Socket s, String where, long deadline) throws IOException, Failure {
        InputStream in = s.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            s.setSoTimeout(remaining(deadline, where));
            int b = in.read();
            if (b < 0) {
                throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": connection closed before the headers ended");
            }
            head.write(b);
            matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
            if (head.size() > MAX_HEADER) {
                throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": headers larger than " + MAX_HEADER + " bytes");
            }
        }
        String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        String[] status = lines[0].split(" ", 3);
        if (status.length < 2 || !status[0].startsWith("HTTP/1.")) {
            throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": not an HTTP response: " + abbreviate(lines[0]));
        }
        if (!status[1].equals("200")) {
            String why = status[1].startsWith("3") ? " (redirects are not followed, RFC 8461 §3.3)" : "";
            throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": " + abbreviate(lines[0]) + why);
        }
        String type = null;
        long length = -1;
        boolean chunked = false;
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String name = lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT);
            String value = lines[i].substring(colon + 1).strip();
            switch (name) {
                case "content-type" -> type = value.toLowerCase(Locale.ROOT).replaceAll("\\s*;", ";");
                case "content-length" -> length = parseLength(value, where);
                case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
                default -> {
                    // not needed
                }
            }
        }
        if (type == null || !(type.equals("text/plain") || type.startsWith("text/plain;"))) {
            throw new Failure(TlsResultType.STS_POLICY_INVALID, where + ": served as " + type + ", not text/plain");
        }
        if (length > maxSize) {
            throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": policy of " + length + " bytes, at most "
                    + maxSize + " are read");
        }
        byte[] body = chunked ? chunked(s, in, where, deadline) : body(s, in, length, where, deadline);
        return new String(body, StandardCharsets.UTF_8);
    }

    private byte[] body(Socket s, InputStream in, long length, String where, long deadline) throws IOException, Failure {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        while (length < 0 || out.size() < length) {
            s.setSoTimeout(remaining(deadline, where));
            int n = in.read(buf, 0, (int) Math.min(buf.length, length < 0 ? buf.length : length - out.size()));
            if (n < 0) {
                if (length >= 0) {
                    throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": policy cut short at " + out.size()
                            + " of " + length + " bytes");
                }
                break;
            }
            out.write(buf, 0, n);
            if (out.size() > maxSize) {
                throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": policy larger than " + maxSize + " bytes");
            }
        }
        return out.toByteArray();
    }

    private byte[] chunked(Socket s, InputStream in, String where, long deadline) throws IOException, Failure {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = line(s, in, where, deadline);
            int semi = sizeLine.indexOf(';');
            long size;
            try {
                size = Long.parseLong((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).strip(), 16);
            } catch (NumberFormatException e) {
                throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": bad chunk size " + abbreviate(sizeLine));
            }
            if (size == 0) {
                return out.toByteArray();
            }
            if (size < 0 || out.size() + size > maxSize) {
                throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": policy larger than " + maxSize + " bytes");
            }
            out.write(body(s, in, size, where, deadline));
            line(s, in, where, deadline); // the CRLF after the chunk
        }
    }

    private static String line(Socket s, InputStream in, String where, long deadline) throws IOException, Failure {
        StringBuilder b = new StringBuilder();
        while (true) {
            s.setSoTimeout(remaining(deadline, where));
            int c = in.read();
            if (c < 0 || b.length() > 1024) {
                throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": bad chunked encoding");
            }
            if (c == '\n') {
                return b.toString().strip();
            }
            b.append((char) c);
        }
    }

    private static long parseLength(String value, String where) throws Failure {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": bad Content-Length " + abbreviate(value));
        }
    }

    private static int remaining(long deadline, String where) throws Failure {
        long ms = (deadline - System.nanoTime()) / 1_000_000;
        if (ms <= 0) {
            throw new Failure(TlsResultType.STS_POLICY_FETCH_ERROR, where + ": the fetch took too long");
        }
        return (int) Math.min(Integer.MAX_VALUE, ms);
    }

    /** PKIX with the verify modes' anchors; the host name is checked by the socket (HTTPS rules). */
    private static SSLContext context(List<X509Certificate> anchors) throws Failure {
        try {
            return io.tlsgate.platform.tls.PeerTrust.clientContext(anchors);
        } catch (IllegalStateException e) {
            throw new Failure(TlsResultType.STS_WEBPKI_INVALID, "no trust anchors to verify the policy host: " + e.getMessage());
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
