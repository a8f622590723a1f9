package io.tlsgate.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * An SMTP client that follows a send/expect script over a real socket, the way RFC 5321's
 * examples read:
 *
 * <pre>
 * S: 220 mx.example ESMTP *
 * C: EHLO client.example
 * S: 250-mx.example
 * S: *                        (any one line)
 * C: MAIL FROM:&lt;a@b&gt;\r\nRCPT TO:&lt;c@d&gt;   (several commands in one packet)
 * TLS                         (handshake now; "TLS fails" expects it to fail)
 * CLOSED                      (the server closes the connection)
 * </pre>
 *
 * {@code S:} lines match one reply line each; {@code *} matches anything within it. A
 * mismatch throws an {@link AssertionError} with the transcript so far.
 */
public final class SmtpDialogue implements AutoCloseable {

    private final String host;
    private final InetSocketAddress localAddress;
    private Socket socket;
    private InputStream in;
    private OutputStream out;
    private final List<String> transcript = new ArrayList<>();
    private SSLContext tls = trustAll(null);

    private SmtpDialogue(Socket socket, String host) throws IOException {
        this.socket = socket;
        this.host = host;
        this.localAddress = (InetSocketAddress) socket.getLocalSocketAddress();
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /** Connects from {@code localAddress} (a loopback address picks the sender group) to the server. */
    public static SmtpDialogue connect(String localAddress, String host, int port) throws IOException {
        Socket s = new Socket();
        if (localAddress != null) {
            s.bind(new InetSocketAddress(InetAddress.getByName(localAddress), 0));
        }
        s.connect(new InetSocketAddress(host, port), 5000);
        s.setSoTimeout(15_000);
        return new SmtpDialogue(s, host);
    }

    /** The TLS context for {@code TLS} steps (default: trusts any server, no client certificate). */
    public SmtpDialogue tls(SSLContext context) {
        this.tls = context;
        return this;
    }

    /** Runs a script (see the class comment). */
    public SmtpDialogue run(String script) throws IOException {
        for (String raw : script.strip().split("\n")) {
            String step = raw.strip();
            if (step.isEmpty() || step.startsWith("#")) {
                continue;
            }
            if (step.startsWith("C:")) {
                send(step.substring(2).strip().replace("\\r\\n", "\r\n") + "\r\n");
            } else if (step.startsWith("S:")) {
                expect(step.substring(2).strip());
            } else if (step.equals("TLS")) {
                startTls();
            } else if (step.equals("TLS fails")) {
                tlsFails();
            } else if (step.equals("CLOSED")) {
                expectClosed();
            } else {
                throw new IllegalArgumentException("unknown step: " + step);
            }
        }
        return this;
    }

    /** Sends raw text (CRLFs included) in one write. */
    public SmtpDialogue send(String text) throws IOException {
        return send(text.getBytes(StandardCharsets.UTF_8));
    }

    public SmtpDialogue send(byte[] bytes) throws IOException {
        transcript.add("C: " + new String(bytes, StandardCharsets.UTF_8).stripTrailing());
        out.write(bytes);
        out.flush();
        return this;
    }

    /** Reads one reply line and checks it against {@code pattern} ({@code *} = anything). */
    public String expect(String pattern) throws IOException {
        String line = readLine();
        if (line == null) {
            throw new AssertionError("expected '" + pattern + "' but the connection was closed\n" + transcript());
        }
        transcript.add("S: " + line);
        if (!glob(pattern).matcher(line).matches()) {
            throw new AssertionError("expected '" + pattern + "' but got '" + line + "'\n" + transcript());
        }
        return line;
    }

    /** Reads a whole (possibly multi-line) reply. */
    public List<String> reply() throws IOException {
        List<String> lines = new ArrayList<>();
        String line;
        do {
            line = readLine();
            if (line == null) {
                throw new AssertionError("connection closed in a reply\n" + transcript());
            }
            transcript.add("S: " + line);
            lines.add(line);
        } while (line.length() > 3 && line.charAt(3) == '-');
        return lines;
    }

    /**
     * Expects the server to close the connection (EOF or reset) without another SMTP reply;
     * non-SMTP bytes before the close (a TLS alert record) are allowed.
     */
    public SmtpDialogue expectClosed() throws IOException {
        try {
            String line;
            while ((line = readLine()) != null) {
                if (line.matches("\\d{3}([ -].*)?")) {
                    transcript.add("S: " + line);
                    throw new AssertionError("expected the connection to be closed, got '" + line + "'\n" + transcript());
                }
                transcript.add("S: (" + line.length() + " non-SMTP octets)");
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the connection stayed open\n" + transcript());
        } catch (IOException e) {
            // reset by the server: closed
        }
        transcript.add("-- closed");
        return this;
    }

    /** TLS handshake on the connection (after 220 to STARTTLS). */
    public SmtpDialogue startTls() throws IOException {
        SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(socket, host, socket.getPort(), true);
        s.setUseClientMode(true);
        s.startHandshake();
        socket = s;
        in = s.getInputStream();
        out = s.getOutputStream();
        transcript.add("-- TLS " + s.getSession().getProtocol() + " " + s.getSession().getCipherSuite());
        return this;
    }

    /** Expects the handshake, or the first exchange after it, to fail (a refused client certificate in TLS 1.3 shows only then). */
    public SmtpDialogue tlsFails() throws IOException {
        try {
            startTls();
            send("NOOP\r\n");
            String line = readLine();
            if (line != null) {
                throw new AssertionError("TLS should have failed, got '" + line + "'\n" + transcript());
            }
        } catch (IOException expected) {
            // handshake failure or alert/EOF after it
        }
        transcript.add("-- TLS failed");
        return this;
    }

    /** The negotiated session after {@code TLS}. */
    public javax.net.ssl.SSLSession tlsSession() {
        return socket instanceof SSLSocket s ? s.getSession() : null;
    }

    public String transcript() {
        return String.join("\n", transcript);
    }

    /** The client's address and port (kept after close). */
    public InetSocketAddress localAddress() {
        return localAddress;
    }

    public Socket socket() {
        return socket;
    }

    public SmtpDialogue timeout(Duration d) throws IOException {
        socket.setSoTimeout((int) d.toMillis());
        return this;
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            int c = in.read();
            if (c < 0) {
                return b.size() == 0 ? null : b.toString(StandardCharsets.UTF_8);
            }
            if (c == '\n') {
                String s = b.toString(StandardCharsets.UTF_8);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            b.write(c);
        }
    }

    private static Pattern glob(String pattern) {
        StringBuilder r = new StringBuilder();
        for (String part : pattern.split("\\*", -1)) {
            if (r.length() > 0 || pattern.startsWith("*")) {
                r.append(".*");
            }
            r.append(Pattern.quote(part));
        }
        return Pattern.compile(pattern.equals("*") ? ".*" : r.toString());
    }

    /** A client TLS context that accepts any server certificate, presenting {@code keys} when given. */
    public static SSLContext trustAll(KeyManager[] keys) {
        return trustAll("TLS", keys);
    }

    /** As {@link #trustAll(KeyManager[])} for one protocol family, e.g. {@code "TLSv1.2"} (offers no TLS 1.3). */
    public static SSLContext trustAll(String protocol, KeyManager[] keys) {
        try {
            SSLContext c = SSLContext.getInstance(protocol);
            c.init(keys, new TrustManager[] {new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, new SecureRandom());
            return c;
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
