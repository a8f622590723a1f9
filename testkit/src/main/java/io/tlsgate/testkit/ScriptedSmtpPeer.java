package io.tlsgate.testkit;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * A remote MTA on loopback for tests, scripted to misbehave in the ways the outbound TLS modes care (docs/destination-controls.md)
 * about: no ESMTP, no STARTTLS, STARTTLS answered with 454, TLS with any certificate, a
 * handshake that fails after 220, per-recipient 4xx/5xx. It speaks real SMTP over a real
 * socket (and real TLS after STARTTLS) and records what it received.
 */
public final class ScriptedSmtpPeer implements AutoCloseable {

    /** How the peer behaves. */
    public record Script(String name, boolean esmtp, boolean advertiseStarttls, String starttlsReply, SSLContext tls,
            boolean failHandshake, Map<String, String> rcptReplies, boolean pipelining, boolean clientAuth) {

        /** A well-behaved ESMTP peer offering STARTTLS with {@code tls}. */
        public static Script tls(String name, SSLContext tls) {
            return new Script(name, true, true, "220 2.0.0 Ready to start TLS", tls, false, Map.of(), true, false);
        }

        public Script noEsmtp() {
            return new Script(name, false, false, starttlsReply, tls, failHandshake, rcptReplies, pipelining, clientAuth);
        }

        public Script noStarttls() {
            return new Script(name, esmtp, false, starttlsReply, tls, failHandshake, rcptReplies, pipelining, clientAuth);
        }

        public Script starttlsReply(String reply) {
            return new Script(name, esmtp, advertiseStarttls, reply, tls, failHandshake, rcptReplies, pipelining, clientAuth);
        }

        public Script failingHandshake() {
            return new Script(name, esmtp, advertiseStarttls, starttlsReply, tls, true, rcptReplies, pipelining, clientAuth);
        }

        /**
         * Asks for a client certificate during the handshake and records its subject; the
         * {@code tls} context's trust managers decide which issuers are acceptable.
         */
        public Script requestClientCertificate() {
            return new Script(name, esmtp, advertiseStarttls, starttlsReply, tls, failHandshake, rcptReplies, pipelining, true);
        }

        /** Does not advertise PIPELINING (RFC 2920). */
        public Script noPipelining() {
            return new Script(name, esmtp, advertiseStarttls, starttlsReply, tls, failHandshake, rcptReplies, false, clientAuth);
        }

        public Script rcpt(String address, String reply) {
            Map<String, String> m = new java.util.HashMap<>(rcptReplies);
            m.put(address.toLowerCase(Locale.ROOT), reply);
            return new Script(name, esmtp, advertiseStarttls, starttlsReply, tls, failHandshake, Map.copyOf(m), pipelining,
                    clientAuth);
        }
    }

    /**
     * One message as received, when; {@code serverName}: the SNI host name the client sent in
     * its connection's TLS handshake (null when it sent none, or without TLS).
     */
    public record Received(String mailFrom, List<String> rcptTo, byte[] data, boolean tls, String clientSubject,
            java.time.Instant at, String serverName) {}

    private final Script script;
    private final ServerSocket server;
    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final List<String> commands = new CopyOnWriteArrayList<>();
    private final Map<Socket, Boolean> open = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger pipelined = new java.util.concurrent.atomic.AtomicInteger();
    /** Messages received on each connection that received any, in the order the connections ended. */
    private final List<Integer> messagesPerConnection = new CopyOnWriteArrayList<>();
    /** Sessions open now, and the most ever open at once. */
    private final java.util.concurrent.atomic.AtomicInteger concurrent = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger maxConcurrent = new java.util.concurrent.atomic.AtomicInteger();
    private volatile long dataDelayMillis;
    private volatile boolean requireTls;

    public ScriptedSmtpPeer(Script script) throws IOException {
        this(script, InetAddress.getLoopbackAddress(), 0);
    }

    /** A peer on a given address and port (e.g. 127.0.0.2 and 127.0.0.3 on one port, as two MX hosts). */
    public ScriptedSmtpPeer(Script script, InetAddress address, int port) throws IOException {
        this.script = script;
        this.server = new ServerSocket(port, 50, address);
        Thread t = new Thread(this::accept, "smtp-peer-" + script.name());
        t.setDaemon(true);
        t.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    public List<Received> received() {
        return List.copyOf(received);
    }

    /** How many MAIL commands arrived together with the command after them (a pipelining client). */
    public int pipelinedTransactions() {
        return pipelined.get();
    }

    /** How many messages each connection carried (connections that carried none are not counted). */
    public List<Integer> messagesPerConnection() {
        return List.copyOf(messagesPerConnection);
    }

    /**
     * The most sessions this peer ever had open at once (a session counts from its accept
     * until the client's QUIT or the connection's end).
     */
    public int maxConcurrentConnections() {
        return maxConcurrent.get();
    }

    /** Waits this long before answering the end of each message's content (a slow server). */
    /** Offers REQUIRETLS (RFC 8689) in its EHLO reply once TLS is on. */
    public ScriptedSmtpPeer offerRequireTls() {
        this.requireTls = true;
        return this;
    }

    public ScriptedSmtpPeer dataDelay(java.time.Duration delay) {
        this.dataDelayMillis = delay.toMillis();
        return this;
    }

    /** Every command line received, in order (after STARTTLS too). */
    public List<String> commands() {
        return List.copyOf(commands);
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                open.put(s, true);
                maxConcurrent.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
                Thread t = new Thread(() -> session(s), "smtp-peer-session");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void session(Socket socket) {
        Socket s = socket;
        int messages = 0;
        java.util.concurrent.atomic.AtomicBoolean counted = new java.util.concurrent.atomic.AtomicBoolean(true);
        Runnable ended = () -> {
            if (counted.compareAndSet(true, false)) {
                concurrent.decrementAndGet();
            }
        };
        try {
            s.setSoTimeout(30_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.ISO_8859_1));
            boolean tls = false;
            String clientSubject = null;
            String serverName = null;
            String from = null;
            List<String> rcpts = new ArrayList<>();

            send(out, "220 peer." + script.name() + ".test ESMTP scripted");
            String line;
            while ((line = r.readLine()) != null) {
                commands.add(line);
                String cmd = line.length() >= 4 ? line.substring(0, 4).toUpperCase(Locale.ROOT) : line.toUpperCase(Locale.ROOT);
                switch (cmd) {
                    case "EHLO" -> {
                        if (!script.esmtp()) {
                            send(out, "500 5.5.1 Command unrecognized");
                        } else if (script.advertiseStarttls() && !tls) {
                            send(out, "250-peer." + script.name() + ".test\r\n"
                                    + (script.pipelining() ? "250-PIPELINING\r\n" : "") + "250-STARTTLS\r\n250 8BITMIME");
                        } else {
                            send(out, "250-peer." + script.name() + ".test\r\n"
                                    + (script.pipelining() ? "250-PIPELINING\r\n" : "")
                                    + (requireTls && tls ? "250-REQUIRETLS\r\n" : "") + "250 8BITMIME");
                        }
                    }
                    case "HELO" -> send(out, "250 peer." + script.name() + ".test");
                    case "STAR" -> {
                        if (!script.advertiseStarttls() || tls) {
                            send(out, "502 5.5.1 Not supported");
                            break;
                        }
                        send(out, script.starttlsReply());
                        if (!script.starttlsReply().startsWith("220")) {
                            break;
                        }
                        if (script.failHandshake() || script.tls() == null) {
                            // Wait for the ClientHello, then answer it with garbage: a failed
                            // handshake, not plaintext after the 220 (which the client refuses
                            // as STARTTLS response injection).
                            in.read();
                            out.write("this is not a TLS record\r\n".getBytes(StandardCharsets.US_ASCII));
                            out.flush();
                            s.close();
                            return;
                        }
                        SSLSocket ssl = (SSLSocket) script.tls().getSocketFactory().createSocket(s,
                                s.getInetAddress().getHostAddress(), s.getPort(), true);
                        ssl.setUseClientMode(false);
                        ssl.setWantClientAuth(script.clientAuth());
                        ssl.startHandshake();
                        try {
                            clientSubject = ((java.security.cert.X509Certificate) ssl.getSession().getPeerCertificates()[0])
                                    .getSubjectX500Principal().getName();
                        } catch (javax.net.ssl.SSLPeerUnverifiedException none) {
                            clientSubject = null;
                        }
                        serverName = ((javax.net.ssl.ExtendedSSLSession) ssl.getSession()).getRequestedServerNames().stream()
                                .filter(n -> n instanceof javax.net.ssl.SNIHostName).map(n -> ((javax.net.ssl.SNIHostName) n)
                                        .getAsciiName()).findFirst().orElse(null);
                        s = ssl;
                        in = ssl.getInputStream();
                        out = ssl.getOutputStream();
                        r = new BufferedReader(new InputStreamReader(in, StandardCharsets.ISO_8859_1));
                        tls = true;
                        from = null;
                        rcpts.clear();
                    }
                    case "MAIL" -> {
                        if (r.ready()) {
                            // The next command was sent before this one's reply: the client pipelines.
                            pipelined.incrementAndGet();
                        }
                        from = between(line);
                        rcpts.clear();
                        send(out, "250 2.1.0 Ok");
                    }
                    case "RCPT" -> {
                        String a = between(line);
                        String reply = script.rcptReplies().getOrDefault(a.toLowerCase(Locale.ROOT), "250 2.1.5 Ok");
                        if (reply.startsWith("2")) {
                            rcpts.add(a);
                        }
                        send(out, reply);
                    }
                    case "DATA" -> {
                        if (rcpts.isEmpty()) {
                            send(out, "554 5.5.1 No valid recipients");
                            break;
                        }
                        send(out, "354 End data with <CR><LF>.<CR><LF>");
                        ByteArrayOutputStream data = new ByteArrayOutputStream();
                        String l;
                        while ((l = r.readLine()) != null && !l.equals(".")) {
                            data.write((l.startsWith("..") ? l.substring(1) : l).getBytes(StandardCharsets.ISO_8859_1));
                            data.write('\r');
                            data.write('\n');
                        }
                        if (dataDelayMillis > 0) {
                            try {
                                Thread.sleep(dataDelayMillis);
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                        received.add(new Received(from, List.copyOf(rcpts), data.toByteArray(), tls, clientSubject,
                                java.time.Instant.now(), serverName));
                        messages++;
                        send(out, "250 2.0.0 Ok: queued");
                    }
                    case "RSET" -> {
                        from = null;
                        rcpts.clear();
                        send(out, "250 2.0.0 Ok");
                    }
                    case "NOOP" -> send(out, "250 2.0.0 Ok");
                    case "QUIT" -> {
                        ended.run(); // the session is over for the client once it said QUIT
                        if (messages > 0) { // counted before the 221, which the client may act on at once
                            messagesPerConnection.add(messages);
                            messages = 0;
                        }
                        send(out, "221 2.0.0 Bye");
                        return;
                    }
                    default -> send(out, "500 5.5.2 Syntax error");
                }
            }
        } catch (IOException e) {
            // the client went away or the handshake failed: the session ends
        } finally {
            if (messages > 0) {
                messagesPerConnection.add(messages);
            }
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
            open.remove(socket);
            ended.run();
        }
    }

    private static String between(String line) {
        int a = line.indexOf('<');
        int b = line.indexOf('>', a + 1);
        return a >= 0 && b > a ? line.substring(a + 1, b) : "";
    }

    private static void send(OutputStream out, String reply) throws IOException {
        out.write((reply + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : open.keySet()) {
            s.close();
        }
    }
}
