package io.tlsgate.listener.smtp;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.handler.timeout.IdleStateEvent;
import io.tlsgate.core.dns.DomainName;
import io.tlsgate.core.inbound.InboundTls;
import io.tlsgate.core.inbound.SenderAddress;
import io.tlsgate.listener.upstream.CertClient;
import io.tlsgate.listener.upstream.ClientCertificateTrust;
import io.tlsgate.listener.upstream.DeliveryClient;
import io.tlsgate.platform.dns.ReverseDns;
import io.tlsgate.platform.tls.CipherNames;
import io.tlsgate.proto.delivery.v1.Envelope;
import io.tlsgate.proto.delivery.v1.InboundTlsFacts;
import io.tlsgate.proto.policy.v1.Behaviour;
import io.tlsgate.proto.policy.v1.InboundPolicy;
import io.tlsgate.proto.policy.v1.Listener;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.jboss.logging.Logger;

/**
 * One inbound SMTP connection (RFC 5321, RFC 3207, RFC 2920), driven by its event loop: the
 * {@link SmtpFramer} hands it one command (or piece of content) at a time, and every wait
 * (reverse DNS, policy-service, delivery-service) pauses the framer instead of a thread.
 *
 * <p>What it enforces, in order: the listener's and the client's connection limits; the host
 * access table (policy-service ResolveInbound: REJECT answers 554, TCPREFUSE closes); the mail
 * flow policy's TLS setting; the recipient access table for clients that may not relay
 * (550 5.7.1); size, recipient and message limits; no bare LF or CR (550 5.5.2, or normalized:
 * see {@link SmtpFramer}); ASCII addresses only (no SMTPUTF8). A message is answered 250 only
 * after delivery-service committed it. Every line of the mail log is written as it happens;
 * one TLS outcome event is published when the connection ends.
 */
public final class SmtpSession extends ChannelInboundHandlerAdapter implements SmtpFramer.Sink {

    static final Logger MAILLOG = Logger.getLogger("io.tlsgate.maillog");
    private static final Logger LOG = Logger.getLogger(SmtpSession.class);
    private static final Set<String> BEFORE_TLS = Set.of("EHLO", "HELO", "NOOP", "RSET", "QUIT", "STARTTLS");
    private static final DateTimeFormatter RFC5322 = DateTimeFormatter.RFC_1123_DATE_TIME;

    private enum State { CONNECTING, REJECTED, OPEN }

    private final SmtpContext env;
    private final Listener listener;
    private final SmtpServers.Admission admission;
    private final long icid;
    private ChannelHandlerContext ctx;
    private SmtpFramer framer;
    private InetSocketAddress remote;
    private InetSocketAddress local;
    private String ip;
    private boolean admitted;
    private State state = State.CONNECTING;
    private ScheduledFuture<?> sessionTimer;

    private ReverseDns.Result rdns = ReverseDns.Result.UNKNOWN;
    private InboundPolicy policy;
    private InboundTls tlsSetting = InboundTls.OFF;
    private List<SenderAddress> mandatorySenders;

    private String helo;
    private boolean esmtp;
    private boolean inTransaction;
    private String mailFrom;
    private final List<String> recipients = new ArrayList<>();
    private int messages;
    private int errors;
    private DeliveryClient.Call call;
    private boolean inData;
    private boolean waitingForStream;
    private long dataBytes;
    private boolean tooBig;

    private boolean tlsStarted;
    private boolean tlsActive;
    private String protocol;
    private String cipher;
    private String clientCertificate;
    private String verification = "not-checked";
    private String tlsFailure;
    private String tlsFailureType;
    private boolean requiredLogged;
    private final List<Long> mids = new ArrayList<>();
    private boolean closedOnPurpose;
    private boolean closing;
    private static final int LINGER_SECONDS = 10;

    SmtpSession(SmtpContext env, Listener listener, SmtpServers.Admission admission, long icid) {
        this.env = env;
        this.listener = listener;
        this.admission = admission;
        this.icid = icid;
    }

    // ---- connection lifecycle

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.framer = ctx.pipeline().get(SmtpFramer.class);
        framer.pause();
        remote = (InetSocketAddress) ctx.channel().remoteAddress();
        local = (InetSocketAddress) ctx.channel().localAddress();
        ip = remote.getAddress().getHostAddress();
        Reply refused = admission.admit(ip);
        if (refused != null) {
            MAILLOG.infof("New SMTP ICID %d interface %s (%s) address %s refused: %s", icid, listener.getName(),
                    local.getAddress().getHostAddress(), ip, refused == Reply.TOO_MANY_CONNECTIONS ? "listener at its connection limit"
                            : "too many connections from this client");
            closeWith(refused, listener.getHostname(), ip);
            return;
        }
        admitted = true;
        sessionTimer = ctx.executor().schedule(() -> closeWith(Reply.SESSION_TIMEOUT, listener.getHostname()),
                env.config().sessionTimeout().toMillis(), TimeUnit.MILLISECONDS);
        env.reverseDns().lookup(remote.getAddress()).whenCompleteAsync(onLoop((r, ignored) -> {
            rdns = r == null ? ReverseDns.Result.UNKNOWN : r;
            env.policy().inbound(listener.getName(), ip, rdns.verified() ? rdns.host() : "")
                    .whenCompleteAsync(onLoop(this::greet), ctx.executor());
        }), ctx.executor());
    }

    private void greet(InboundPolicy p, Throwable failed) {
        MAILLOG.infof("New SMTP ICID %d interface %s (%s) address %s reverse dns host %s verified %s", icid, listener.getName(),
                local.getAddress().getHostAddress(), ip, rdns.host() == null ? "unknown" : rdns.host(), rdns.verified() ? "yes" : "no");
        if (failed != null) {
            MAILLOG.infof("ICID %d policy lookup failed: %s", icid, message(failed));
            closeWith(Reply.POLICY_UNAVAILABLE, listener.getHostname());
            return;
        }
        policy = p;
        tlsSetting = tls(p.getPolicy().getTls());
        Behaviour b = p.getPolicy().getBehaviour();
        MAILLOG.infof("ICID %d %s SG %s match %s", icid, b, p.getSenderGroup(), p.getMatchedBy());
        switch (b) {
            case TCPREFUSE -> {
                closedOnPurpose = true;
                ctx.close();
            }
            case REJECT -> {
                state = State.REJECTED;
                reply(Reply.REJECTED_GREETING, listener.getHostname());
                framer.resume();
            }
            default -> {
                state = State.OPEN;
                reply(Reply.GREETING, listener.getHostname());
                framer.resume();
            }
        }
    }

    /** The service is stopping: 421 and close (a message not yet answered 250 is not queued; the client retries). */
    void shutdown() {
        if (inData && call != null) {
            call.abort("listener-service stopping");
        }
        closeWith(Reply.SHUTTING_DOWN, listener.getHostname());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (sessionTimer != null) {
            sessionTimer.cancel(false);
        }
        if (call != null && inData) {
            call.abort("client disconnected during DATA");
        }
        if (!admitted) {
            return;
        }
        admission.release(ip);
        if (framer.commandBareLf() + framer.commandBareCr() > 0) {
            MAILLOG.infof("ICID %d normalized %d bare <LF> and %d bare <CR> to <CR><LF> in commands", icid,
                    framer.commandBareLf(), framer.commandBareCr());
        }
        if (state == State.OPEN) {
            publishOutcome();
        }
        MAILLOG.infof("ICID %d %s", icid, closedOnPurpose ? "close" : "lost");
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent hs) {
            handshakeDone(hs);
        } else if (evt instanceof IdleStateEvent) {
            // Idle means the client is silent while it is its turn; while this session waits for
            // another service (which has its own deadline), the client is not to blame.
            if (!framer.paused()) {
                closeWith(Reply.IDLE_TIMEOUT, listener.getHostname());
            }
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Garbage, resets, TLS alerts: this connection ends, nothing else is affected.
        LOG.debugf("ICID %d: %s", icid, cause.toString());
        if (tlsStarted && !tlsActive && tlsFailure == null) {
            tlsFailed(cause);
        } else if (tlsActive && !closing && renegotiationRefused(cause)) {
            // BoringSSL, or JSSE with jdk.tls.rejectClientInitiatedRenegotiation=true (see TlsRenegotiation), refused it with an alert.
            closedOnPurpose = true;
            MAILLOG.infof("ICID %d TLS client-initiated renegotiation refused; connection closed", icid);
        }
        ctx.close();
    }

    // ---- framed input

    @Override
    public boolean line(String line) {
        if (state == State.REJECTED) {
            if (verb(line).equals("QUIT")) {
                closeWith(Reply.BYE);
                return true;
            }
            return error(Reply.REJECTED_COMMAND);
        }
        String verb = verb(line);
        String arg = line.length() > verb.length() ? line.substring(verb.length()).trim() : "";
        if (tlsSetting.requiresTls() && !tlsActive && !BEFORE_TLS.contains(verb)) {
            if (!requiredLogged) {
                requiredLogged = true;
                MAILLOG.infof("ICID %d TLS was required but remote host did not initiate it", icid);
            }
            return error(Reply.MUST_STARTTLS);
        }
        return switch (verb) {
            case "EHLO", "HELO" -> hello(verb, arg);
            case "MAIL" -> mail(arg);
            case "RCPT" -> rcpt(arg);
            case "DATA" -> data(arg);
            case "RSET" -> {
                if (!arg.isEmpty()) {
                    yield error(Reply.NO_ARGUMENTS, "RSET");
                }
                resetTransaction();
                yield reply(Reply.OK);
            }
            case "NOOP" -> reply(Reply.OK);
            case "QUIT" -> {
                closeWith(Reply.BYE);
                yield true;
            }
            case "VRFY" -> reply(Reply.VRFY_DISABLED);
            case "EXPN" -> reply(Reply.EXPN_DISABLED);
            case "HELP" -> reply(Reply.HELP);
            case "STARTTLS" -> startTls(arg);
            case "AUTH", "BDAT", "ETRN", "TURN", "ATRN", "SEND", "SOML", "SAML" -> error(Reply.NOT_IMPLEMENTED);
            default -> error(Reply.UNKNOWN_COMMAND);
        };
    }

    @Override
    public boolean lineTooLong() {
        return error(Reply.LINE_TOO_LONG);
    }

    /** tlsgate.listener.bare-newline=reject: 550 and close; a message in progress is abandoned (not queued). */
    @Override
    public void bareNewline(boolean lf, boolean inContent) {
        String what = lf ? "<LF>" : "<CR>";
        if (inContent && inData && call != null) {
            call.abort("bare " + what + " in the message content");
            MAILLOG.infof("ICID %d bare %s received in message content: rejected, message not queued, connection closed", icid, what);
        } else {
            MAILLOG.infof("ICID %d bare %s received in a command: rejected, connection closed", icid, what);
        }
        resetTransaction();
        closeWith(lf ? Reply.BARE_LF : Reply.BARE_CR);
    }

    private boolean hello(String verb, String arg) {
        if (arg.isEmpty()) {
            return error(Reply.HELO_SYNTAX, verb);
        }
        resetTransaction();
        helo = arg;
        esmtp = verb.equals("EHLO");
        if (!esmtp) {
            return reply(Reply.HELO, listener.getHostname());
        }
        List<String> lines = new ArrayList<>();
        lines.add(listener.getHostname());
        lines.add("SIZE " + listener.getMaxMessageSizeBytes());
        lines.add("PIPELINING");
        lines.add("8BITMIME");
        lines.add("ENHANCEDSTATUSCODES");
        // No SMTPUTF8 (RFC 6531): delivery-service cannot send a UTF-8 envelope on yet, so
        // non-ASCII addresses are refused at MAIL/RCPT instead of being accepted and bounced.
        if (tlsSetting.advertisesStartTls() && !tlsActive) {
            lines.add("STARTTLS");
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            out.append("250").append(i == lines.size() - 1 ? ' ' : '-').append(lines.get(i)).append("\r\n");
        }
        ctx.write(Unpooled.copiedBuffer(out, StandardCharsets.UTF_8));
        return true;
    }

    private boolean mail(String arg) {
        if (helo == null) {
            return error(Reply.NEED_HELO);
        }
        if (inTransaction) {
            return error(Reply.NESTED_MAIL);
        }
        if (messages >= policy.getPolicy().getMaxMessagesPerConnection()) {
            MAILLOG.infof("ICID %d too many messages in this session (%d)", icid, messages);
            closeWith(Reply.TOO_MANY_MESSAGES, listener.getHostname());
            return true;
        }
        SmtpCommand.PathArgs p;
        try {
            p = SmtpCommand.parse(arg, "FROM:", true);
        } catch (SmtpCommand.Invalid e) {
            return error(e.syntax() ? Reply.MAIL_SYNTAX : Reply.BAD_ADDRESS);
        }
        for (var param : p.params().entrySet()) {
            String v = param.getValue();
            switch (param.getKey()) {
                case "SIZE" -> {
                    if (v == null || !v.matches("\\d{1,19}")) {
                        return error(Reply.MAIL_SYNTAX);
                    }
                    if (new java.math.BigInteger(v).compareTo(java.math.BigInteger.valueOf(listener.getMaxMessageSizeBytes())) > 0) {
                        return error(Reply.MESSAGE_TOO_BIG);
                    }
                }
                case "BODY" -> {
                    if (v == null || !(v.equalsIgnoreCase("7BIT") || v.equalsIgnoreCase("8BITMIME"))) {
                        return error(Reply.UNSUPPORTED_PARAMETER, param.getKey() + (v == null ? "" : "=" + v));
                    }
                }
                default -> {
                    return error(Reply.UNSUPPORTED_PARAMETER, param.getKey());
                }
            }
        }
        if (!esmtp && !p.params().isEmpty()) {
            return error(Reply.UNSUPPORTED_PARAMETER, p.params().keySet().iterator().next());
        }
        if (!ascii(p.address())) {
            return error(Reply.NON_ASCII_ADDRESS);
        }
        if (!tlsActive && tlsSetting.allowsMandatorySenders() && mandatoryTls(p.address())) {
            MAILLOG.infof("ICID %d sender <%s> must use TLS: refused on a plaintext connection", icid, p.address());
            return error(Reply.MUST_STARTTLS);
        }
        inTransaction = true;
        mailFrom = p.address();
        recipients.clear();
        return reply(Reply.SENDER_OK);
    }

    private boolean mandatoryTls(String sender) {
        if (mandatorySenders == null) {
            mandatorySenders = new ArrayList<>();
            for (String pattern : policy.getPolicy().getTlsMandatorySendersList()) {
                try {
                    mandatorySenders.add(SenderAddress.parse(pattern));
                } catch (IllegalArgumentException e) {
                    LOG.warnf("mail flow policy %s: ignoring TLS-mandatory sender %s: %s", policy.getPolicy().getName(), pattern,
                            e.getMessage());
                }
            }
        }
        return mandatorySenders.stream().anyMatch(s -> s.matches(sender));
    }

    private boolean rcpt(String arg) {
        if (!inTransaction) {
            return error(Reply.NEED_MAIL);
        }
        SmtpCommand.PathArgs p;
        try {
            p = SmtpCommand.parse(arg, "TO:", false);
        } catch (SmtpCommand.Invalid e) {
            return error(e.syntax() ? Reply.RCPT_SYNTAX : Reply.BAD_RECIPIENT);
        }
        if (!p.params().isEmpty()) {
            return error(Reply.UNSUPPORTED_PARAMETER, p.params().keySet().iterator().next());
        }
        if (!ascii(p.address())) {
            return error(Reply.NON_ASCII_ADDRESS);
        }
        if (recipients.size() >= policy.getPolicy().getMaxRecipientsPerMessage()) {
            return reply(Reply.TOO_MANY_RECIPIENTS);
        }
        if (policy.getPolicy().getBehaviour() == Behaviour.RELAY) {
            recipients.add(p.address());
            return reply(Reply.RECIPIENT_OK);
        }
        String domain;
        try {
            domain = p.domain().startsWith("[") ? null : DomainName.normalise(p.domain());
        } catch (IllegalArgumentException e) {
            domain = null;
        }
        if (domain == null) {
            return relayDenied(p.address());
        }
        env.policy().recipientAccess(domain).whenCompleteAsync(onLoop((access, failed) -> {
            if (failed != null) {
                MAILLOG.infof("ICID %d recipient <%s>: RAT lookup failed: %s", icid, p.address(), message(failed));
                reply(Reply.LOOKUP_FAILED);
            } else if (access.getAccepted()) {
                recipients.add(p.address());
                reply(Reply.RECIPIENT_OK);
            } else {
                relayDenied(p.address());
            }
            framer.resume();
        }), ctx.executor());
        return false;
    }

    private boolean relayDenied(String address) {
        MAILLOG.infof("ICID %d RID %d rejected <%s>: relay access denied (not in the RAT)", icid, recipients.size(), address);
        return reply(Reply.RELAY_DENIED, address);
    }

    private boolean data(String arg) {
        if (!arg.isEmpty()) {
            return error(Reply.NO_ARGUMENTS, "DATA");
        }
        if (!inTransaction) {
            return error(Reply.NEED_MAIL);
        }
        if (recipients.isEmpty()) {
            return error(Reply.NEED_RCPT);
        }
        // Ask first whether delivery-service is there: when it is not, say so now (451), before
        // the client sends the message.
        env.delivery().ready().whenCompleteAsync(onLoop((ok, failed) -> {
            if (failed != null) {
                MAILLOG.infof("ICID %d message not queued: delivery-service unavailable (%s)", icid, message(failed));
                resetTransaction();
                reply(Reply.QUEUE_UNAVAILABLE);
            } else {
                startData();
            }
            framer.resume();
        }), ctx.executor());
        return false;
    }

    private void startData() {
        Envelope.Builder e = Envelope.newBuilder().setMailFrom(mailFrom).addAllRcptTo(recipients).setIcid(icid)
                .setListener(listener.getName());
        InboundTlsFacts.Builder facts = InboundTlsFacts.newBuilder().setEncrypted(tlsActive);
        if (tlsActive) {
            facts.setProtocol(protocol).setCipher(cipher);
            if (clientCertificate != null) {
                facts.setClientCertificateSubject(clientCertificate).setClientCertificateVerified("success".equals(verification));
            }
        }
        call = env.delivery().enqueue(e.setTls(facts).build());
        call.onReady(() -> ctx.executor().execute(this::streamReady));
        inData = true;
        dataBytes = 0;
        tooBig = false;
        call.data(ByteString.copyFrom(receivedHeader(), StandardCharsets.UTF_8));
        reply(Reply.START_DATA);
        framer.dataMode();
    }

    @Override
    public boolean data(ByteBuf content) {
        try {
            dataBytes += content.readableBytes();
            if (tooBig) {
                return true;
            }
            if (dataBytes > listener.getMaxMessageSizeBytes()) {
                tooBig = true;
                call.abort("message over the listener's size limit");
                return true;
            }
            if (call.failed()) {
                return true; // read to the end, then 451
            }
            call.data(ByteString.copyFrom(content.nioBuffer()));
            if (call.backedUp()) {
                waitingForStream = true;
                return false;
            }
            return true;
        } finally {
            content.release();
        }
    }

    private void streamReady() {
        if (waitingForStream && (!call.backedUp() || call.failed())) {
            waitingForStream = false;
            framer.resume();
        }
    }

    @Override
    public boolean endOfData() {
        inData = false;
        waitingForStream = false;
        DeliveryClient.Call c = call;
        if (tooBig) {
            MAILLOG.infof("ICID %d message refused: %d octets exceed the listener's limit of %d", icid, dataBytes,
                    listener.getMaxMessageSizeBytes());
            resetTransaction();
            return reply(Reply.MESSAGE_TOO_BIG);
        }
        String from = mailFrom;
        List<String> to = List.copyOf(recipients);
        long size = dataBytes;
        int bareLf = framer.dataBareLf();
        int bareCr = framer.dataBareCr();
        // The timeout applies to a copy: the call itself is then cancelled, so a late commit cannot follow a 451.
        c.finish().copy().orTimeout(env.config().enqueueTimeout().toMillis(), TimeUnit.MILLISECONDS).whenCompleteAsync(guarded((mid,
                failed) -> {
            if (failed == null) {
                mids.add(mid);
                messages++;
                MAILLOG.infof("Start MID %d ICID %d", mid, icid);
                MAILLOG.infof("MID %d ICID %d From: <%s>", mid, icid, from);
                for (int i = 0; i < to.size(); i++) {
                    MAILLOG.infof("MID %d ICID %d RID %d To: <%s>", mid, icid, i, to.get(i));
                }
                if (bareLf + bareCr > 0) {
                    MAILLOG.infof("MID %d ICID %d normalized %d bare <LF> and %d bare <CR> to <CR><LF> in the message content", mid,
                            icid, bareLf, bareCr);
                }
                MAILLOG.infof("MID %d ready %d bytes from <%s>", mid, size, from);
                reply(Reply.QUEUED, mid);
            } else {
                Throwable cause = failed instanceof java.util.concurrent.CompletionException && failed.getCause() != null
                        ? failed.getCause() : failed;
                if (cause instanceof TimeoutException) {
                    c.cancel("no commit within the enqueue timeout");
                }
                Status st = Status.fromThrowable(cause);
                MAILLOG.infof("ICID %d message not queued: %s", icid, cause instanceof TimeoutException
                        ? "delivery-service did not commit in time" : st.getCode() + " " + st.getDescription());
                if (st.getCode() == Status.Code.INVALID_ARGUMENT) {
                    reply(Reply.MESSAGE_REFUSED, st.getDescription() == null ? "invalid" : sanitize(st.getDescription()));
                } else {
                    reply(Reply.QUEUE_UNAVAILABLE);
                }
            }
            resetTransaction();
            framer.resume();
        }), ctx.executor());
        return false;
    }

    private String receivedHeader() {
        String with = (esmtp ? "ESMTP" : "SMTP") + (tlsActive ? "S" : "");
        StringBuilder h = new StringBuilder("Received: from ").append(sanitize(helo)).append(" (")
                .append(rdns.verified() ? rdns.host() : "unknown").append(" [").append(ip).append("])\r\n\tby ")
                .append(listener.getHostname()).append(" (tlsgate) with ").append(with).append(" id ").append(icid);
        if (tlsActive) {
            h.append("\r\n\t(using ").append(protocol).append(" with cipher ").append(cipher).append(')');
        }
        h.append(";\r\n\t").append(RFC5322.format(ZonedDateTime.now())).append("\r\n");
        return h.toString();
    }

    // ---- STARTTLS

    private boolean startTls(String arg) {
        if (!arg.isEmpty()) {
            return error(Reply.STARTTLS_SYNTAX);
        }
        if (tlsActive || tlsStarted) {
            return error(Reply.TLS_ALREADY_ACTIVE);
        }
        if (!tlsSetting.advertisesStartTls()) {
            return error(Reply.TLS_NOT_OFFERED);
        }
        CertClient.ServerTls tls = env.certs().tls(listener.getCertificateSlot());
        if (tls == null) {
            MAILLOG.infof("ICID %d TLS not available: no certificate for slot %s yet", icid, listener.getCertificateSlot());
            return reply(Reply.TLS_NOT_AVAILABLE);
        }
        int pipelined = framer.buffered();
        tlsStarted = true;
        if (pipelined > 0) {
            // RFC 3207 §5 / CVE-2011-0411: plaintext sent after STARTTLS must never be taken as if it came over TLS.
            tlsFailure = "command injection: " + pipelined + " octets pipelined after STARTTLS";
            tlsFailureType = "validation-failure";
            MAILLOG.infof("ICID %d TLS failed: %s were discarded; connection closed", icid, tlsFailure);
            closeWith(Reply.READY_FOR_TLS);
            return false;
        }
        SSLEngine engine = tls.engine(ctx.alloc());
        engine.setUseClientMode(false);
        engine.setEnabledProtocols(supported(env.config().tlsProtocols(), engine.getSupportedProtocols()));
        engine.setEnabledCipherSuites(supported(env.config().tlsCiphers(), engine.getSupportedCipherSuites()));
        var params = engine.getSSLParameters();
        params.setUseCipherSuitesOrder(true);
        engine.setSSLParameters(params);
        if (tlsSetting.requiresClientCertificate()) {
            engine.setNeedClientAuth(true);
        } else if (tlsSetting.requestsClientCertificate()) {
            engine.setWantClientAuth(true);
        }
        SslHandler handler = new SslHandler(engine, true);
        handler.setHandshakeTimeoutMillis(env.config().handshakeTimeout().toMillis());
        ctx.pipeline().addBefore(ctx.pipeline().context(framer).name(), "tls", handler);
        resetTransaction();
        helo = null;
        ctx.writeAndFlush(bytes(Reply.READY_FOR_TLS.text()));
        return true;
    }

    private static String[] supported(List<String> wanted, String[] available) {
        List<String> a = Arrays.asList(available);
        return wanted.stream().filter(a::contains).toArray(String[]::new);
    }

    private void handshakeDone(SslHandshakeCompletionEvent hs) {
        if (!hs.isSuccess()) {
            tlsFailed(hs.cause());
            closedOnPurpose = true;
            ctx.close();
            return;
        }
        SSLSession s = ctx.pipeline().get(SslHandler.class).engine().getSession();
        tlsActive = true;
        protocol = s.getProtocol();
        cipher = CipherNames.openSsl(s.getCipherSuite());
        MAILLOG.infof("ICID %d TLS success protocol %s cipher %s", icid, protocol, cipher);
        if (tlsSetting.requestsClientCertificate()) {
            try {
                Certificate[] peer = s.getPeerCertificates();
                clientCertificate = ((X509Certificate) peer[0]).getSubjectX500Principal().getName();
                verification = "success";
                MAILLOG.infof("ICID %d TLS client certificate verified: %s", icid, clientCertificate);
            } catch (SSLPeerUnverifiedException e) {
                verification = "not-presented";
                MAILLOG.infof("ICID %d TLS no client certificate presented", icid);
            }
        }
        // RFC 3207 §4.2: forget everything learnt before TLS; the client must say EHLO again.
        helo = null;
        resetTransaction();
    }

    private void tlsFailed(Throwable cause) {
        if (tlsFailure != null) {
            return;
        }
        ClientCertificateTrust.Rejected rejected = find(cause, ClientCertificateTrust.Rejected.class);
        if (rejected != null) {
            tlsFailure = rejected.getMessage();
            tlsFailureType = rejected.resultType();
            verification = "failure";
        } else if (io.tlsgate.platform.tls.TlsEngine.keyUsageRefused(message(cause))) {
            // BoringSSL checks the client certificate's key usage before the trust manager sees it.
            tlsFailure = "client certificate not trusted: its key usage does not allow signing (" + message(cause) + ")";
            tlsFailureType = "certificate-not-trusted";
            verification = "failure";
        } else if (find(cause, NotSslRecordException.class) != null) {
            tlsFailure = "not a TLS record (plaintext after STARTTLS)";
            tlsFailureType = "validation-failure";
        } else if (find(cause, SslHandshakeTimeoutException.class) != null) {
            tlsFailure = "handshake timed out";
        } else if (tlsSetting.requiresClientCertificate() && String.valueOf(message(cause)).toLowerCase(Locale.ROOT)
                .contains("certificate")) {
            tlsFailure = "no client certificate (" + message(cause) + ")";
            tlsFailureType = "validation-failure";
            verification = "failure";
        } else {
            tlsFailure = message(cause);
        }
        MAILLOG.infof("ICID %d TLS failed: %s", icid, tlsFailure);
    }

    private void publishOutcome() {
        String result;
        String type = null;
        String reason = null;
        if (tlsFailure != null) {
            result = "failure";
            type = tlsFailureType == null ? "validation-failure" : tlsFailureType;
            reason = tlsFailure;
        } else if (tlsActive) {
            result = "success";
        } else if (tlsSetting == InboundTls.OFF) {
            result = "not-attempted";
        } else if (tlsSetting.requiresTls()) {
            result = "failure";
            type = "starttls-not-supported";
            reason = "TLS was required but remote host did not initiate it";
        } else {
            result = "plaintext-fallback";
        }
        env.events().publish(new InboundEvents.Outcome(icid, List.copyOf(mids), listener.getName(), ip,
                rdns.host(), rdns.verified(), remote.getPort(), policy.getSenderGroup(), policy.getPolicy().getName(),
                tlsSetting.name(), result, type, protocol, cipher, verification, clientCertificate, reason, Instant.now()));
    }

    // ---- replies

    private boolean reply(Reply r, Object... args) {
        if (r.closes()) {
            closeWith(r, args);
            return false;
        }
        if (!closing) {
            ctx.write(bytes(r.text(args)));
        }
        return true;
    }

    private boolean error(Reply r, Object... args) {
        reply(r, args);
        if (++errors >= env.config().maxErrors() && !closing) {
            MAILLOG.infof("ICID %d too many errors (%d)", icid, errors);
            closeWith(Reply.TOO_MANY_ERRORS, listener.getHostname());
            return false;
        }
        return true;
    }

    /**
     * The last reply, then close. Nothing more is read or answered; a client that does not read
     * (so the reply cannot be written) is cut off after {@link #LINGER_SECONDS}.
     */
    private void closeWith(Reply r, Object... args) {
        if (closing) {
            return;
        }
        closing = true;
        closedOnPurpose = true;
        if (framer != null) {
            framer.stop();
        }
        if (ctx.channel().isActive()) {
            ctx.writeAndFlush(bytes(r.text(args))).addListener(ChannelFutureListener.CLOSE);
            ctx.executor().schedule(() -> {
                ctx.close();
            }, LINGER_SECONDS, TimeUnit.SECONDS);
        }
    }

    /**
     * An asynchronous answer, run on the event loop only while the session is still going; an
     * unexpected exception ends the session with 421 instead of leaving it paused forever.
     */
    private <T> java.util.function.BiConsumer<T, Throwable> onLoop(java.util.function.BiConsumer<T, Throwable> body) {
        return (value, failed) -> {
            if (closing || !ctx.channel().isActive()) {
                return;
            }
            guarded(body).accept(value, failed);
        };
    }

    /** As {@link #onLoop} but runs after the client left too (a commit must still be logged). */
    private <T> java.util.function.BiConsumer<T, Throwable> guarded(java.util.function.BiConsumer<T, Throwable> body) {
        return (value, failed) -> {
            try {
                body.accept(value, failed);
            } catch (RuntimeException e) {
                LOG.errorf(e, "ICID %d: internal error", icid);
                closeWith(Reply.INTERNAL_ERROR, listener.getHostname());
            }
        };
    }

    private static ByteBuf bytes(String text) {
        return Unpooled.copiedBuffer(text + "\r\n", StandardCharsets.UTF_8);
    }

    private void resetTransaction() {
        inTransaction = false;
        mailFrom = null;
        recipients.clear();
        call = null;
        inData = false;
    }

    // ---- helpers

    private static String verb(String line) {
        int sp = line.indexOf(' ');
        String v = sp < 0 ? line : line.substring(0, sp);
        return v.length() > 16 ? "?" : v.toUpperCase(Locale.ROOT);
    }

    /** RFC 6531: without SMTPUTF8 (not offered) an address must be ASCII. */
    private static boolean ascii(String address) {
        return address.chars().allMatch(c -> c < 128);
    }

    private static InboundTls tls(io.tlsgate.proto.policy.v1.InboundTls t) {
        return switch (t) {
            case TLS_PREFERRED -> InboundTls.PREFERRED;
            case TLS_REQUIRED -> InboundTls.REQUIRED;
            case TLS_PREFERRED_VERIFY -> InboundTls.PREFERRED_VERIFY;
            case TLS_REQUIRED_VERIFY -> InboundTls.REQUIRED_VERIFY;
            default -> InboundTls.OFF;
        };
    }

    private static String sanitize(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 255; i++) {
            char c = s.charAt(i);
            b.append(c < 32 || c == 127 ? '?' : c);
        }
        return b.toString();
    }

    private static String message(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && (c instanceof java.util.concurrent.CompletionException
                || c instanceof javax.net.ssl.SSLHandshakeException && c.getMessage() == null)) {
            c = c.getCause();
        }
        return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
    }

    /** JSSE: "renegotiation is not allowed"; BoringSSL, which never renegotiates as a server: NO_RENEGOTIATION. */
    private static boolean renegotiationRefused(Throwable cause) {
        for (Throwable c = cause; c != null; c = c.getCause()) {
            if (c instanceof javax.net.ssl.SSLException && c.getMessage() != null
                    && (c.getMessage().contains("renegotiation is not allowed") || c.getMessage().contains("NO_RENEGOTIATION"))) {
                return true;
            }
        }
        return false;
    }

    private static <T extends Throwable> T find(Throwable t, Class<T> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }
}
