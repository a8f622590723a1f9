package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.CertificateIdentity;
import io.tlsgate.core.tls.OutboundTlsDecision;
import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsDecision.Step;
import io.tlsgate.core.tls.OutboundTlsMode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509KeyManager;
import javax.net.ssl.X509TrustManager;

/**
 * One delivery attempt to one host over SMTP, with STARTTLS exactly per the mode
 * ({@link OutboundTlsDecision}) and, in the verify modes, the certificate checked against the
 * trust anchors and the mode's identity rule ({@link CertificateIdentity}). Blocking: it runs
 * on a worker thread. Writes the mail-log lines of product.md §7 for its DCID.
 */
public final class SmtpDeliveryAttempt {

    /** Where to deliver and under which rules. */
    public record Target(String host, int port, String connectedName, String recipientDomain, List<String> mxHosts,
            String routeHost, OutboundTlsMode mode, List<X509Certificate> trustAnchors, String heloName,
            X509KeyManager clientKey) {}

    /**
     * A message for one domain.
     *
     * @param rids the recipients' indexes in the message, for the log ({@code RID [0, 2]})
     */
    public record Message(long mid, List<Integer> rids, String mailFrom, List<String> rcptTo, byte[] data) {

        public Message {
            if (rids.size() != rcptTo.size()) {
                throw new IllegalArgumentException("one RID per recipient");
            }
        }
    }

    /** What happened: the TLS outcome, per-recipient replies, and the mail-log lines. */
    public record Result(OutboundTlsDecision.Action action, boolean encrypted, String protocol, String cipher,
            String verification, String resultType, boolean alert, List<String> rcptReplies, String dataReply,
            List<String> log) {

        public boolean delivered() {
            return dataReply != null && dataReply.startsWith("2");
        }
    }

    private final long dcid;
    private final List<String> log = new ArrayList<>();

    public SmtpDeliveryAttempt(long dcid) {
        this.dcid = dcid;
    }

    public Result run(Target t, Message m) throws IOException {
        try (Socket plain = new Socket()) {
            plain.connect(new InetSocketAddress(t.host(), t.port()), 10_000);
            plain.setSoTimeout(30_000);
            log.add("New SMTP DCID " + dcid + " interface " + plain.getLocalAddress().getHostAddress() + " address "
                    + t.host() + " port " + t.port());
            Conn c = new Conn(plain);
            String greeting = c.reply();
            if (!greeting.startsWith("220")) {
                return finish(t, new Step(Action.TEMPFAIL, "greeting " + greeting, null, false), c, null, null);
            }
            c.send("EHLO " + t.heloName());
            String ehlo = c.reply();
            Step s = OutboundTlsDecision.afterEhlo(t.mode(), ehlo.startsWith("250"));
            if (s.action() == Action.CONTINUE) {
                s = OutboundTlsDecision.afterEhloReply(t.mode(), advertises(ehlo, "STARTTLS"));
            }
            if (s.action() == Action.CONTINUE) {
                c.send("STARTTLS");
                String reply = c.reply();
                s = OutboundTlsDecision.afterStarttlsReply(t.mode(), code(reply));
            }
            if (s.action() == Action.CONTINUE) {
                return tls(t, m, c, plain);
            }
            if (s.action() == Action.SEND_PLAINTEXT && s.helo()) {
                c.send("HELO " + t.heloName());
                c.reply();
                ehlo = "";
            }
            c.ehlo = ehlo;
            return finish(t, s, c, m, null);
        }
    }

    private Result tls(Target t, Message m, Conn plainConn, Socket plain) throws IOException {
        Step s;
        SSLSocket ssl;
        TrustCheck trust = new TrustCheck(t.trustAnchors());
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(t.clientKey() == null ? null : new KeyManager[] {t.clientKey()}, new TrustManager[] {trust}, null);
            ssl = (SSLSocket) ctx.getSocketFactory().createSocket(plain, t.connectedName(), t.port(), false);
            ssl.setUseClientMode(true);
            ssl.startHandshake();
        } catch (SSLHandshakeException e) {
            s = OutboundTlsDecision.afterHandshake(t.mode(), "handshake failure: " + e.getMessage());
            return finish(t, s, null, null, null);
        } catch (IOException e) {
            s = OutboundTlsDecision.afterHandshake(t.mode(), "handshake failure: " + e.getMessage());
            return finish(t, s, null, null, null);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        String protocol = ssl.getSession().getProtocol();
        String cipher = ssl.getSession().getCipherSuite();
        log.add("DCID " + dcid + " TLS success protocol " + protocol + " cipher " + cipher);
        Conn c = new Conn(ssl);
        s = OutboundTlsDecision.afterHandshake(t.mode(), null);
        String reference = null;
        if (s.action() == Action.CONTINUE) {
            X509Certificate leaf = (X509Certificate) ssl.getSession().getPeerCertificates()[0];
            String failureType = trust.failureType();
            String detail = trust.failure();
            if (failureType == null) {
                CertificateIdentity.Match match = identity(t, leaf);
                if (match.matched()) {
                    reference = match.referenceIdentity();
                } else {
                    failureType = "certificate-host-mismatch";
                    detail = match.detail();
                }
            }
            s = OutboundTlsDecision.afterVerification(t.mode(), failureType, detail);
            log.add(failureType == null ? "DCID " + dcid + " TLS verify success: " + reference
                    : "DCID " + dcid + " TLS verify failed: " + failureType + ": " + detail);
            Result r = finish(t, s, c, s.action() == Action.SEND_ENCRYPTED ? m : null, new String[] {protocol, cipher});
            return new Result(r.action(), r.encrypted(), r.protocol(), r.cipher(), failureType == null ? "success" : "failure",
                    failureType, r.alert(), r.rcptReplies(), r.dataReply(), r.log());
        }
        return finish(t, s, c, m, new String[] {protocol, cipher});
    }

    private Result finish(Target t, Step s, Conn c, Message m, String[] tls) throws IOException {
        if (s.reason() != null && s.action() != Action.SEND_ENCRYPTED && !(s.resultType() != null
                && s.resultType().startsWith("certificate"))) {
            log.add("DCID " + dcid + " TLS failed: " + s.reason());
        }
        boolean alert = t.mode().alertsOnFailure() && s.action() == Action.TEMPFAIL;
        if (alert) {
            log.add("DCID " + dcid + " IP " + t.host() + " TLS was required but could not be successfully negotiated");
        }
        List<String> rcptReplies = new ArrayList<>();
        String dataReply = null;
        if (c != null && m != null && (s.action() == Action.SEND_PLAINTEXT || s.action() == Action.SEND_ENCRYPTED)) {
            if (s.action() == Action.SEND_ENCRYPTED) {
                c.send("EHLO " + t.heloName());
                c.ehlo = c.reply();
            }
            log.add("Delivery start DCID " + dcid + " MID " + m.mid() + " to RID " + m.rids());
            boolean pipelining = advertises(c.ehlo, "PIPELINING");
            String mailReply;
            if (pipelining) {
                // RFC 2920: MAIL and every RCPT in one write, then the replies in order.
                StringBuilder batch = new StringBuilder("MAIL FROM:<" + m.mailFrom() + ">\r\n");
                m.rcptTo().forEach(r -> batch.append("RCPT TO:<").append(r).append(">\r\n"));
                c.write(batch.toString());
                mailReply = c.reply();
                for (int i = 0; i < m.rcptTo().size(); i++) {
                    rcptReplies.add(c.reply());
                }
            } else {
                c.send("MAIL FROM:<" + m.mailFrom() + ">");
                mailReply = c.reply();
                if (mailReply.startsWith("2")) {
                    for (String r : m.rcptTo()) {
                        c.send("RCPT TO:<" + r + ">");
                        rcptReplies.add(c.reply());
                    }
                }
            }
            if (!mailReply.startsWith("2")) {
                // The sender was refused: that reply is every recipient's.
                rcptReplies.clear();
                m.rcptTo().forEach(r -> rcptReplies.add(mailReply));
            }
            List<Integer> accepted = new ArrayList<>();
            for (int i = 0; i < rcptReplies.size(); i++) {
                if (rcptReplies.get(i).startsWith("2")) {
                    accepted.add(m.rids().get(i));
                }
            }
            if (!accepted.isEmpty()) {
                c.send("DATA");
                dataReply = c.reply();
                if (dataReply.startsWith("354")) {
                    c.data(m.data());
                    dataReply = c.reply();
                    if (dataReply.startsWith("2")) {
                        log.add("Message done DCID " + dcid + " MID " + m.mid() + " to RID " + accepted);
                    }
                }
            }
        }
        if (c != null) {
            try {
                c.send("QUIT");
                c.reply();
            } catch (IOException ignored) {
                // the peer may be gone already
            }
        }
        return new Result(s.action(), s.action() == Action.SEND_ENCRYPTED, tls == null ? null : tls[0],
                tls == null ? null : tls[1], "not-checked", s.resultType(), alert, rcptReplies, dataReply, List.copyOf(log));
    }

    private static CertificateIdentity.Match identity(Target t, X509Certificate leaf) {
        String cn = CertificateIdentity.commonName(leaf);
        List<String> sans = CertificateIdentity.dnsNames(leaf);
        return t.mode().usesHostedIdentityRules()
                ? CertificateIdentity.hostedVerify(cn, sans, t.recipientDomain(), t.mxHosts(), t.routeHost())
                : CertificateIdentity.verify(cn, sans, t.connectedName(), t.recipientDomain());
    }

    private static boolean advertises(String ehlo, String keyword) {
        for (String line : ehlo.split("\r\n")) {
            if (line.length() > 4 && line.substring(4).trim().toUpperCase(Locale.ROOT).split(" ")[0].equals(keyword)) {
                return true;
            }
        }
        return false;
    }

    private static int code(String reply) {
        try {
            return Integer.parseInt(reply.substring(0, 3));
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /**
     * Checks the chain against the anchors but never fails the handshake: the mode decides
     * what a bad certificate means, so the failure is recorded for {@link #failureType}.
     */
    private static final class TrustCheck implements X509TrustManager {
        private final X509TrustManager pkix;
        private String failureType;
        private String failure;

        TrustCheck(List<X509Certificate> anchors) {
            try {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                int i = 0;
                for (X509Certificate a : anchors) {
                    ks.setCertificateEntry("a" + i++, a);
                }
                TrustManagerFactory f = TrustManagerFactory.getInstance("PKIX");
                f.init(ks);
                pkix = (X509TrustManager) f.getTrustManagers()[0];
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
            try {
                chain[0].checkValidity();
            } catch (CertificateExpiredException | CertificateNotYetValidException e) {
                failureType = "certificate-expired";
                failure = "certificate expired or not yet valid: " + e.getMessage();
                return;
            }
            try {
                pkix.checkServerTrusted(chain, authType);
            } catch (java.security.cert.CertificateException e) {
                failureType = "certificate-not-trusted";
                failure = e.getMessage();
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
            throw new UnsupportedOperationException();
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }

        String failureType() {
            return failureType;
        }

        String failure() {
            return failure;
        }
    }

    /** A line-oriented SMTP connection. */
    private static final class Conn {
        private final BufferedReader in;
        private final OutputStream out;
        /** The EHLO reply that applies to the transaction (after STARTTLS: the second one). */
        String ehlo = "";

        Conn(Socket s) throws IOException {
            in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
            out = s.getOutputStream();
        }

        void send(String line) throws IOException {
            write(line + "\r\n");
        }

        void write(String lines) throws IOException {
            out.write(lines.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        /** A whole (multi-line) reply, lines joined with CRLF. */
        String reply() throws IOException {
            StringBuilder b = new StringBuilder();
            String line;
            while ((line = in.readLine()) != null) {
                if (b.length() > 0) {
                    b.append("\r\n");
                }
                b.append(line);
                if (line.length() < 4 || line.charAt(3) != '-') {
                    return b.toString();
                }
            }
            throw new IOException("connection closed by the peer");
        }

        /** The message with dot-stuffing and the final dot. */
        void data(byte[] data) throws IOException {
            String text = new String(data, StandardCharsets.ISO_8859_1);
            StringBuilder b = new StringBuilder();
            for (String line : text.split("\r\n", -1)) {
                b.append(line.startsWith(".") ? "." + line : line).append("\r\n");
            }
            if (text.endsWith("\r\n")) {
                b.setLength(b.length() - 2);
            }
            b.append(".\r\n");
            out.write(b.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }
    }
}
