package io.tlsgate.listener.smtp;

import io.tlsgate.core.tls.Verification;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.tlsgate.listener.upstream.DeliveryClient;
import io.tlsgate.proto.delivery.v1.Envelope;
import io.tlsgate.proto.delivery.v1.InboundTlsFacts;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * DATA and the message content. DATA needs MAIL and at least one accepted RCPT, and
 * delivery-service ready (451 now, before the client sends the message, when it is not). The
 * content streams to delivery-service as it arrives (one Enqueue per message, the Received
 * header first); the end of data is answered 250 only once delivery-service committed the
 * message, 552 when it was over the size limit (read to the end, not queued), 451 when the
 * commit failed or took longer than the enqueue timeout (then the call is cancelled, so a late
 * commit cannot follow the 451), 554 when delivery-service refused the content.
 */
final class DataHandler implements CommandHandler {

    /** The message being received. */
    static final class Incoming {
        final DeliveryClient.Call call;
        long bytes;
        boolean tooBig;
        /** Reading stopped until the gRPC stream takes more. */
        boolean waitingForStream;

        Incoming(DeliveryClient.Call call) {
            this.call = call;
        }
    }

    private final Upstream upstream;
    private final Duration enqueueTimeout;

    DataHandler(Upstream upstream, Duration enqueueTimeout) {
        this.upstream = upstream;
        this.enqueueTimeout = enqueueTimeout;
    }

    @Override
    public Set<String> verbs() {
        return Set.of("DATA");
    }

    @Override
    public Answer handle(SessionState s, String verb, String arg) {
        if (!arg.isEmpty()) {
            return Answer.error(Reply.NO_ARGUMENTS, "DATA");
        }
        if (!s.inTransaction) {
            return Answer.error(Reply.NEED_MAIL);
        }
        if (s.recipients.isEmpty()) {
            return Answer.error(Reply.NEED_RCPT);
        }
        return Answer.later(upstream.queueReady(), (ok, failed) -> {
            if (failed != null) {
                MailLog.queueUnavailable(s, MailLog.message(failed));
                s.resetTransaction();
                return Answer.reply(Reply.QUEUE_UNAVAILABLE);
            }
            start(s);
            return new Answer.Say(Reply.START_DATA.text(), false, Answer.Then.DATA);
        });
    }

    private void start(SessionState s) {
        Envelope.Builder e = Envelope.newBuilder().setMailFrom(s.mailFrom).addAllRcptTo(s.recipients).setIcid(s.icid)
                .setListener(s.listener.getName()).setRequireTls(s.requireTls);
        InboundTlsFacts.Builder facts = InboundTlsFacts.newBuilder().setEncrypted(s.tls.active);
        if (s.tls.active) {
            facts.setProtocol(s.tls.protocol).setCipher(s.tls.cipher);
            if (s.tls.clientCertificate != null) {
                facts.setClientCertificateSubject(s.tls.clientCertificate)
                        .setClientCertificateVerified(s.tls.verification == Verification.SUCCESS);
            }
        }
        Incoming m = new Incoming(upstream.enqueue(e.setTls(facts).build()));
        s.incoming = m;
        m.call.data(ByteString.copyFrom(ReceivedHeader.of(s, ZonedDateTime.now()), StandardCharsets.UTF_8));
    }

    /** A piece of content (released here); false when reading must wait for the stream to take more. */
    boolean content(SessionState s, ByteBuf content) {
        Incoming m = s.incoming;
        try {
            m.bytes += content.readableBytes();
            if (m.tooBig) {
                return true;
            }
            if (m.bytes > s.listener.getMaxMessageSizeBytes()) {
                m.tooBig = true;
                m.call.abort("message over the listener's size limit");
                return true;
            }
            if (m.call.failed()) {
                return true; // read to the end, then 451
            }
            m.call.data(ByteString.copyFrom(content.nioBuffer()));
            if (m.call.backedUp()) {
                m.waitingForStream = true;
                return false;
            }
            return true;
        } finally {
            content.release();
        }
    }

    /** The end-of-data line arrived: the answer once delivery-service committed (or did not). */
    Answer end(SessionState s, int bareLf, int bareCr) {
        Incoming m = s.incoming;
        s.incoming = null;
        if (m.tooBig) {
            MailLog.tooBig(s, m.bytes);
            s.resetTransaction();
            return Answer.reply(Reply.MESSAGE_TOO_BIG);
        }
        String from = s.mailFrom;
        List<String> to = List.copyOf(s.recipients);
        // The timeout applies to a copy: the call itself is then cancelled, so a late commit cannot follow a 451.
        return new Answer.Later<>(m.call.finish().copy().orTimeout(enqueueTimeout.toMillis(), TimeUnit.MILLISECONDS),
                (mid, failed) -> {
                    s.resetTransaction();
                    if (failed == null) {
                        s.mids.add(mid);
                        s.messages++;
                        MailLog.queued(s, mid, from, to, m.bytes, bareLf, bareCr);
                        return Answer.reply(Reply.QUEUED, mid);
                    }
                    Throwable cause = failed instanceof CompletionException && failed.getCause() != null ? failed.getCause() : failed;
                    if (cause instanceof TimeoutException) {
                        m.call.cancel("no commit within the enqueue timeout");
                    }
                    Status st = Status.fromThrowable(cause);
                    MailLog.notQueued(s, cause instanceof TimeoutException ? "delivery-service did not commit in time"
                            : st.getCode() + " " + st.getDescription());
                    if (st.getCode() == Status.Code.INVALID_ARGUMENT) {
                        return Answer.reply(Reply.MESSAGE_REFUSED,
                                st.getDescription() == null ? "invalid" : ReceivedHeader.sanitize(st.getDescription()));
                    }
                    return Answer.reply(Reply.QUEUE_UNAVAILABLE);
                }, true);
    }

    /** The message in progress is abandoned (client gone, bare newline, shutdown): nothing is queued. */
    static void abandon(SessionState s, String why) {
        if (s.incoming != null) {
            s.incoming.call.abort(why);
            s.incoming = null;
        }
    }
}
