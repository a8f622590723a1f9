package io.tlsgate.delivery.smtp;

import io.tlsgate.platform.tls.CipherNames;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;

/**
 * One look at an SMTP server's transport security, for the TLS check: connect, greeting, EHLO,
 * STARTTLS and its reply, the TLS handshake (the client certificate a delivery presents, any
 * server certificate accepted: the verdicts are the check's), EHLO again, then
 * {@code MAIL FROM}, {@code RCPT TO}, {@code RSET} and {@code QUIT}. Never sends {@code DATA}:
 * no message is ever delivered. Blocking (JDK sockets and TLS), for a worker thread; every
 * reply is waited for at most {@code stepTimeout} and never past the deadline.
 */
public final class TlsProbe {

    /** The longest reply line read; longer is a broken peer. */
    private static final int MAX_LINE = 4096;
    /** The most lines of one reply. */
    private static final int MAX_LINES = 200;
    /** The most handshake bytes kept to find the key exchange. */
    private static final int MAX_RECORDED = 65_536;

    /** Told about each step as it ends: its name, how long it took, what it found. */
    @FunctionalInterface
    public interface Progress {
        void step(String step, long millis, String detail);
    }

    /**
     * How to probe: the EHLO name, the client key a delivery would present (null: none), the
     * SNI name (null: none, as for an address), the envelope of the probe ({@code rcptTo} null:
     * no RCPT), each reply's timeout and the time by which everything ends.
     */
    public record Settings(String heloName, KeyManagerFactory clientKey, String sni, String mailFrom, String rcptTo,
            Duration stepTimeout, Instant deadline) {}

    /**
     * What the server did, filled in as far as the probe got. Times in milliseconds (null: the
     * step was not reached); replies as received, lines joined by CRLF.
     */
    public static final class Facts {
        public final String address;
        public final int port;
        public Long connectMs;
        public String greeting;
        public Long greetingMs;
        public String ehlo;
        public Long ehloMs;
        public boolean starttlsOffered;
        public String starttlsReply;
        public Long starttlsMs;
        /** Plaintext that came after the 220 to STARTTLS (a man in the middle may be answering). */
        public String injection;
        public String handshakeFailure;
        public Long handshakeMs;
        public String protocol;
        public String cipherSuite;
        public String cipher;
        public String keyExchange;
        public List<X509Certificate> chain = List.of();
        public String ehloAfterTls;
        public String mailFrom;
        public String rcptTo;
        public String rset;
        public String quit;
        public Long probeMs;
        /** Why the probe stopped early (connection refused, timeout, closed). */
        public String error;

        Facts(String address, int port) {
            this.address = address;
            this.port = port;
        }

        public boolean greeted() {
            return greeting != null && greeting.startsWith("220");
        }

        public boolean ehloAccepted() {
            return ehlo != null && ehlo.startsWith("250");
        }

        /** The reply code of STARTTLS, 0 when none came. */
        public int starttlsCode() {
            try {
                return starttlsReply == null ? 0 : Integer.parseInt(starttlsReply.substring(0, 3));
            } catch (RuntimeException e) {
                return 0;
            }
        }

        /** The TLS handshake completed. */
        public boolean encrypted() {
            return protocol != null;
        }
    }

    private TlsProbe() {}

    /** Probes {@code address:port}; never throws for what the peer does (the facts say where it stopped). */
    public static Facts run(InetAddress address, int port, Settings s, Progress progress) {
        Facts f = new Facts(address.getHostAddress(), port);
        RecordingSocket socket = new RecordingSocket();
        Socket open = socket;
        try {
            long t = System.nanoTime();
            try {
                socket.connect(new InetSocketAddress(address, port), timeout(s));
            } catch (SocketTimeoutException e) {
                throw e;
            } catch (IOException e) {
                throw new IOException("connect to " + f.address + " port " + port + ": " + e.getMessage(), e);
            }
            f.connectMs = since(t);
            progress.step("connect", f.connectMs, f.address + " port " + port);
            Io io = new Io(socket, s);
            t = System.nanoTime();
            f.greeting = io.reply();
            f.greetingMs = since(t);
            progress.step("greeting", f.greetingMs, firstLine(f.greeting));
            if (!f.greeted()) {
                f.quit = io.quietly("QUIT");
                return f;
            }
            t = System.nanoTime();
            f.ehlo = io.command("EHLO " + s.heloName());
            f.ehloMs = since(t);
            progress.step("ehlo", f.ehloMs, firstLine(f.ehlo));
            if (!f.ehloAccepted()) {
                // No ESMTP: the modes that allow it go on with HELO, in plaintext.
                io.command("HELO " + s.heloName());
            } else {
                f.starttlsOffered = TlsNegotiation.advertises(f.ehlo, "STARTTLS");
            }
            if (f.starttlsOffered) {
                t = System.nanoTime();
                f.starttlsReply = io.command("STARTTLS");
                f.starttlsMs = since(t);
                progress.step("starttls", f.starttlsMs, firstLine(f.starttlsReply));
                if (f.starttlsCode() == 220) {
                    if (io.buffered() > 0) {
                        f.injection = io.leftover();
                        progress.step("starttls", 0, "plaintext after the 220: " + f.injection);
                        return f;
                    }
                    socket.record();
                    SSLSocket tls = handshake(socket, s, f);
                    progress.step("handshake", f.handshakeMs, f.encrypted()
                            ? f.protocol + " " + f.cipher + (f.keyExchange == null ? "" : " " + f.keyExchange)
                            : "failed: " + f.handshakeFailure);
                    if (tls == null) {
                        return f;
                    }
                    open = tls;
                    io = new Io(tls, s);
                    f.ehloAfterTls = io.command("EHLO " + s.heloName());
                }
            }
            t = System.nanoTime();
            f.mailFrom = io.command("MAIL FROM:<" + s.mailFrom() + ">");
            if (f.mailFrom.startsWith("2") && s.rcptTo() != null) {
                f.rcptTo = io.command("RCPT TO:<" + s.rcptTo() + ">");
            }
            f.rset = io.command("RSET");
            f.quit = io.quietly("QUIT");
            f.probeMs = since(t);
            progress.step("probe", f.probeMs, firstLine(f.mailFrom) + (f.rcptTo == null ? "" : " / " + firstLine(f.rcptTo)));
        } catch (SocketTimeoutException e) {
            String what = f.connectMs == null ? "no connection" : "no reply";
            // The socket's timeout is the step's or what was left to the deadline, in whole ms: it
            // may fire a moment before the deadline, so "reached" allows for that.
            f.error = Instant.now().plusMillis(100).isBefore(s.deadline()) ? what + " within " + s.stepTimeout().toSeconds() + " s"
                    : "the check's time limit was reached";
        } catch (IOException e) {
            f.error = e.getMessage() == null ? e.toString() : e.getMessage();
        } finally {
            try {
                open.close();
            } catch (IOException ignored) {
                // closing a probe's socket
            }
        }
        if (f.error != null) {
            progress.step("error", 0, f.error);
        }
        return f;
    }

    /** The handshake over the plaintext socket; null (and {@code handshakeFailure} set) when it failed. */
    private static SSLSocket handshake(RecordingSocket socket, Settings s, Facts f) throws IOException {
        long t = System.nanoTime();
        SSLSocket tls;
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(s.clientKey() == null ? null : s.clientKey().getKeyManagers(), new TrustManager[] {TrustCheck.HANDSHAKE},
                    null);
            tls = (SSLSocket) ctx.getSocketFactory().createSocket(socket, s.sni() == null ? f.address : s.sni(), f.port, true);
        } catch (GeneralSecurityException e) {
            throw new IOException("no TLS client: " + e.getMessage(), e);
        }
        SSLParameters params = tls.getSSLParameters();
        params.setServerNames(s.sni() == null ? List.of() : List.of(new SNIHostName(s.sni())));
        tls.setSSLParameters(params);
        tls.setSoTimeout(timeout(s));
        try {
            tls.startHandshake();
        } catch (SocketTimeoutException e) {
            throw e;
        } catch (IOException e) {
            f.handshakeMs = since(t);
            f.handshakeFailure = e.getMessage() == null ? e.toString() : e.getMessage();
            f.keyExchange = ServerHello.keyExchange(socket.recorded(), null, null);
            return null;
        }
        f.handshakeMs = since(t);
        SSLSession session = tls.getSession();
        f.protocol = session.getProtocol();
        f.cipherSuite = session.getCipherSuite();
        f.cipher = CipherNames.openSsl(f.cipherSuite);
        f.keyExchange = ServerHello.keyExchange(socket.recorded(), f.protocol, f.cipherSuite);
        List<X509Certificate> chain = new ArrayList<>();
        for (Certificate c : session.getPeerCertificates()) {
            if (c instanceof X509Certificate x) {
                chain.add(x);
            }
        }
        f.chain = List.copyOf(chain);
        return tls;
    }

    private static int timeout(Settings s) throws SocketTimeoutException {
        long left = Duration.between(Instant.now(), s.deadline()).toMillis();
        if (left <= 0) {
            throw new SocketTimeoutException("deadline");
        }
        return (int) Math.max(1, Math.min(left, s.stepTimeout().toMillis()));
    }

    private static long since(long nanos) {
        return (System.nanoTime() - nanos) / 1_000_000;
    }

    /** The SNI name for a host: null for an address literal (RFC 6066 §3). */
    public static String sni(String host) {
        return SmtpDeliveryAttempt.sniName(host);
    }

    /** The first line of a reply. */
    public static String firstLine(String reply) {
        if (reply == null) {
            return "";
        }
        int i = reply.indexOf('\r');
        return i < 0 ? reply : reply.substring(0, i);
    }

    /** Commands and their replies on one socket, each under the step timeout and the deadline. */
    private static final class Io {
        private final Socket socket;
        private final Settings s;
        private final InputStream in;
        private final OutputStream out;
        private final byte[] buf = new byte[8192];
        private int pos;
        private int lim;

        Io(Socket socket, Settings s) throws IOException {
            this.socket = socket;
            this.s = s;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        String command(String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return reply();
        }

        /** QUIT and its reply, if any: a peer that closes instead is no failure. */
        String quietly(String line) {
            try {
                return command(line);
            } catch (IOException e) {
                return null;
            }
        }

        /** One reply: its lines until one without a hyphen after the code. */
        String reply() throws IOException {
            StringBuilder reply = new StringBuilder();
            for (int n = 0; n < MAX_LINES; n++) {
                String line = line();
                if (reply.length() > 0) {
                    reply.append("\r\n");
                }
                reply.append(line);
                if (line.length() < 4 || line.charAt(3) != '-') {
                    return reply.toString();
                }
            }
            throw new IOException("a reply of more than " + MAX_LINES + " lines");
        }

        private String line() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            while (true) {
                if (pos == lim) {
                    socket.setSoTimeout(timeout(s));
                    lim = in.read(buf);
                    pos = 0;
                    if (lim < 0) {
                        lim = 0;
                        throw new IOException("connection closed by the server" + (line.size() > 0 ? " mid-reply" : ""));
                    }
                }
                byte b = buf[pos++];
                if (b == '\n') {
                    String l = line.toString(StandardCharsets.ISO_8859_1);
                    return l.endsWith("\r") ? l.substring(0, l.length() - 1) : l;
                }
                if (line.size() >= MAX_LINE) {
                    throw new IOException("a reply line longer than " + MAX_LINE + " bytes");
                }
                line.write(b);
            }
        }

        int buffered() {
            return lim - pos;
        }

        String leftover() {
            String s = new String(buf, pos, Math.min(lim - pos, 200), StandardCharsets.ISO_8859_1);
            return s.replace("\r", "\\r").replace("\n", "\\n");
        }
    }

    /**
     * A plaintext socket whose input can be recorded from a point on: the TLS layer reads the
     * server's handshake through it, so its first records (ServerHello, and in TLS 1.2 the
     * ServerKeyExchange) show the key exchange, which the JDK does not tell.
     */
    private static final class RecordingSocket extends Socket {
        private final ByteArrayOutputStream recorded = new ByteArrayOutputStream();
        private volatile boolean recording;
        private InputStream in;

        void record() {
            recording = true;
        }

        byte[] recorded() {
            synchronized (recorded) {
                return recorded.toByteArray();
            }
        }

        @Override
        public synchronized InputStream getInputStream() throws IOException {
            if (in == null) {
                in = new FilterInputStream(super.getInputStream()) {
                    @Override
                    public int read() throws IOException {
                        byte[] one = new byte[1];
                        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
                    }

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        int n = super.read(b, off, len);
                        if (n > 0 && recording) {
                            synchronized (recorded) {
                                if (recorded.size() < MAX_RECORDED) {
                                    recorded.write(b, off, Math.min(n, MAX_RECORDED - recorded.size()));
                                }
                            }
                        }
                        return n;
                    }
                };
            }
            return in;
        }
    }
}
