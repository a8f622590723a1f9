package io.tlsgate.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * A remote SMTP server on loopback that does whatever its test tells it, byte for byte: each
 * connection runs the test's {@link Behaviour} against a {@link Conn} that reads lines and
 * content, sends raw bytes (several replies in one TCP segment, replies nobody asked for,
 * plaintext right after the 220 to STARTTLS) and can start TLS when the test says so. Every
 * line in both directions goes into a transcript, so a test can check what the server really
 * received and answered, independently of what the client under test believes.
 */
public final class HostileSmtpPeer implements AutoCloseable {

    /** What the server does on one connection. */
    @FunctionalInterface
    public interface Behaviour {
        void run(Conn c) throws Exception;
    }

    /** One accepted connection, seen from the server. */
    public final class Conn {
        private Socket socket;
        private InputStream in;
        private OutputStream out;
        private boolean tls;
        private List<String> serverNames = List.of();
        private final List<String> transcript = new CopyOnWriteArrayList<>();

        Conn(Socket socket) throws IOException {
            this.socket = socket;
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(30_000);
            in = socket.getInputStream();
            out = socket.getOutputStream();
        }

        /** The next line from the client without its line end (CRLF or a bare LF), or null at the end of the stream. */
        public String readLine() throws IOException {
            String l = rawLine();
            transcript.add(l == null ? "C: <closed>" : "C: " + l);
            return l;
        }

        /**
         * The content after a 354, read up to and including CRLF.CRLF, dot-stuffing undone;
         * null when the stream ended first. The transcript gets {@code C: <content n octets>}
         * and then {@code C: .} when the final dot arrived.
         */
        public byte[] readContent() throws IOException {
            ByteArrayOutputStream data = new ByteArrayOutputStream();
            String l;
            while ((l = rawLine()) != null && !l.equals(".")) {
                data.writeBytes((l.startsWith(".") ? l.substring(1) : l).getBytes(StandardCharsets.ISO_8859_1));
                data.write('\r');
                data.write('\n');
            }
            transcript.add("C: <content " + data.size() + " octets>");
            transcript.add(l == null ? "C: <closed>" : "C: .");
            return l == null ? null : data.toByteArray();
        }

        /** A line up to LF, without its CRLF or LF; null when the stream ends before one. */
        private String rawLine() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != -1 && c != '\n') {
                b.write(c);
            }
            if (c == -1) {
                return null;
            }
            String l = b.toString(StandardCharsets.ISO_8859_1);
            return l.endsWith("\r") ? l.substring(0, l.length() - 1) : l;
        }

        /** Writes {@code raw} exactly as given, in one write (one segment on loopback). */
        public void send(String raw) throws IOException {
            out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            for (String l : raw.split("\r\n", -1)) {
                if (!l.isEmpty()) {
                    transcript.add("S: " + l);
                }
            }
        }

        /** Server side of the TLS handshake on this connection, with the peer's context. */
        public void startTls() throws IOException {
            if (context == null) {
                throw new IllegalStateException("this peer has no TLS context");
            }
            SSLSocket ssl = (SSLSocket) context.getSocketFactory().createSocket(socket,
                    socket.getInetAddress().getHostAddress(), socket.getPort(), true);
            ssl.setUseClientMode(false);
            ssl.startHandshake();
            serverNames = ((javax.net.ssl.ExtendedSSLSession) ssl.getSession()).getRequestedServerNames().stream()
                    .map(n -> n instanceof javax.net.ssl.SNIHostName h ? h.getAsciiName() : n.toString()).toList();
            socket = ssl;
            in = ssl.getInputStream();
            out = ssl.getOutputStream();
            tls = true;
            transcript.add("-- TLS --");
        }

        public boolean tls() {
            return tls;
        }

        /** The SNI names the client sent in its handshake (empty: none, or no TLS yet). */
        public List<String> serverNames() {
            return serverNames;
        }

        /** Closes this connection from the server's side (as a server does with an idle client). */
        public void close() throws IOException {
            socket.close();
        }

        public void sleep(long millis) throws InterruptedException {
            Thread.sleep(millis);
        }

        /** This connection's transcript so far ({@code C:} client lines, {@code S:} server lines). */
        public List<String> transcript() {
            return List.copyOf(transcript);
        }
    }

    private final ServerSocket server;
    private final SSLContext context;
    private final Behaviour behaviour;
    private final List<Conn> connections = new CopyOnWriteArrayList<>();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final Map<Socket, Boolean> open = new ConcurrentHashMap<>();
    private final List<Thread> sessions = new CopyOnWriteArrayList<>();

    /** A server on 127.0.0.1 and a free port; {@code context} may be null when the behaviour never starts TLS. */
    public HostileSmtpPeer(SSLContext context, Behaviour behaviour) throws IOException {
        this(InetAddress.getLoopbackAddress(), context, behaviour);
    }

    /** A server on {@code address} (e.g. ::1) and a free port. */
    public HostileSmtpPeer(InetAddress address, SSLContext context, Behaviour behaviour) throws IOException {
        this(address, 0, context, behaviour);
    }

    /** A server on {@code address} and {@code port} (an MX host on the port the client uses for MX hosts). */
    public HostileSmtpPeer(InetAddress address, int port, SSLContext context, Behaviour behaviour) throws IOException {
        this.server = new ServerSocket(port, 50, address);
        this.context = context;
        this.behaviour = behaviour;
        Thread t = new Thread(this::accept, "hostile-smtp-peer");
        t.setDaemon(true);
        t.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Every connection so far, in the order accepted. */
    public List<Conn> connections() {
        return List.copyOf(connections);
    }

    /** All transcripts joined, one line each. */
    public List<String> transcript() {
        return connections.stream().flatMap(c -> c.transcript().stream()).toList();
    }

    /** What the behaviours threw other than the client going away (a broken test, not a hostile peer). */
    public List<Throwable> errors() {
        return List.copyOf(errors);
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                open.put(s, true);
                Conn c = new Conn(s);
                connections.add(c);
                Thread t = new Thread(() -> {
                    try {
                        behaviour.run(c);
                    } catch (IOException gone) {
                        c.transcript.add("-- " + gone + " --");
                    } catch (Exception | AssertionError e) {
                        errors.add(e);
                    } finally {
                        try {
                            c.socket.close();
                        } catch (IOException ignored) {
                            // closing
                        }
                        open.remove(s);
                    }
                }, "hostile-smtp-session");
                t.setDaemon(true);
                sessions.add(t);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    @Override
    /**
     * Stops accepting, closes every connection, and waits (up to 3 s in all) for the sessions
     * to end, so their transcripts and whatever they recorded are complete afterwards: a
     * client may have read a reply before the session thread that wrote it noted it.
     */
    public void close() throws IOException {
        server.close();
        for (Socket s : open.keySet()) {
            s.close();
        }
        long deadline = System.nanoTime() + 3_000_000_000L;
        for (Thread t : sessions) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                break;
            }
            try {
                t.join(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
