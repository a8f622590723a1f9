package io.tlsgate.delivery.smtp;

import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Message;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Transaction;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * The mail transactions of one use of a connection: for each message MAIL, RCPT, DATA and the
 * content, RSET between messages (pipelined when the EHLO reply offers it); {@code ehlo}
 * is the EHLO reply that applies to them (after STARTTLS: the second one). With
 * {@code requireTls} (RFC 8689) MAIL FROM carries REQUIRETLS, and a server whose EHLO reply
 * does not offer it gets none of the messages: each is answered {@code 550 5.7.30} here.
 */
record MailTransactions(SessionIo io, MailLog log, String ehlo, boolean requireTls) {

    /** RFC 8689 §4.2.1: the next hop must offer REQUIRETLS, else the message is returned. */
    static final String NO_REQUIRETLS = "550 5.7.30 REQUIRETLS support required: the server does not offer REQUIRETLS";

    /**
     * The messages from {@code i} on, RSET between them; stops at a refused RSET. With
     * PIPELINING (RFC 2920) each message's RSET, MAIL, RCPTs and DATA go in one write, so a
     * message costs two round trips (the group, then the content); without it, one per command.
     */
    Future<Void> send(List<Message> messages, int i, List<Transaction> done) {
        if (i == messages.size()) {
            return Future.succeededFuture();
        }
        if (requireTls && !TlsNegotiation.advertises(ehlo, "REQUIRETLS")) {
            for (Message m : messages.subList(i, messages.size())) {
                log.requireTlsRefused(m);
                done.add(new Transaction(m.mid(), java.util.Collections.nCopies(m.rcptTo().size(), NO_REQUIRETLS), null));
            }
            return Future.succeededFuture();
        }
        Message m = messages.get(i);
        List<String> rcptReplies = new ArrayList<>();
        Future<Sent> sent;
        if (TlsNegotiation.advertises(ehlo, "PIPELINING")) {
            sent = pipelined(m, i > 0, rcptReplies);
        } else {
            Future<Boolean> ready = i == 0 ? Future.succeededFuture(true) : io.command("RSET").map(r -> r.startsWith("2"));
            sent = ready.compose(ok -> ok ? oneByOne(m, rcptReplies) : Future.succeededFuture(Sent.STOP));
        }
        return sent.compose(s -> {
            if (s.stop()) {
                return Future.succeededFuture();
            }
            done.add(new Transaction(m.mid(), List.copyOf(rcptReplies), s.dataReply()));
            return send(messages, i + 1, done);
        });
    }

    /**
     * What one message's transaction came to: the reply to DATA or to the end of the content
     * (null when no recipient was accepted), or {@link #STOP}: the RSET before it was refused,
     * nothing more goes on this connection and this message was not sent.
     */
    private record Sent(String dataReply, boolean stop) {
        static final Sent STOP = new Sent(null, true);
        static final Sent NOTHING = new Sent(null, false);

        static Sent reply(String dataReply) {
            return new Sent(dataReply, false);
        }
    }

    /**
     * One group: [RSET,] MAIL, every RCPT, DATA (RFC 2920 §3.1: RSET, MAIL and RCPT anywhere,
     * DATA last), then exactly as many replies, in order; the content goes only after a 354
     * and with at least one recipient accepted.
     */
    private Future<Sent> pipelined(Message m, boolean rset, List<String> rcptReplies) {
        log.deliveryStart(m);
        List<String> group = new ArrayList<>();
        if (rset) {
            group.add("RSET");
        }
        group.add(mailFrom(m));
        m.rcptTo().forEach(r -> group.add("RCPT TO:<" + r + ">"));
        group.add("DATA");
        int first = rset ? 1 : 0;
        return io.commands(group).compose(all -> {
            String dataReply = all.get(all.size() - 1);
            if (rset && !all.get(0).startsWith("2")) {
                // The server would not reset: nothing of this group is trusted, and content
                // after a 354 would go out under a transaction we cannot vouch for.
                return dataReply.startsWith("354") ? abandon() : Future.succeededFuture(Sent.STOP);
            }
            String mailReply = all.get(first);
            rcptReplies.addAll(all.subList(first + 1, all.size() - 1));
            List<Integer> accepted = accepted(m, mailReply, rcptReplies);
            if (dataReply.startsWith("354") && accepted.isEmpty()) {
                // DATA accepted though no recipient was (RFC 2920 §3.1): end it empty; the
                // server has nobody to deliver it to, and this message was not sent.
                return io.commands(List.of(".")).map(r -> Sent.NOTHING);
            }
            if (accepted.isEmpty()) {
                return Future.succeededFuture(Sent.NOTHING);
            }
            return content(m, accepted, dataReply).map(Sent::reply);
        });
    }

    private String mailFrom(Message m) {
        return "MAIL FROM:<" + m.mailFrom() + ">" + (requireTls ? " REQUIRETLS" : "");
    }

    /** Closes the connection in the middle of DATA: the server discards the transaction. */
    private Future<Sent> abandon() {
        return io.socket().close().otherwiseEmpty().map(v -> Sent.STOP);
    }

    /** MAIL, then each RCPT and DATA, one command at a time (no PIPELINING offered). */
    private Future<Sent> oneByOne(Message m, List<String> rcptReplies) {
        log.deliveryStart(m);
        return io.command(mailFrom(m)).compose(mailReply -> {
            Future<Void> rcpts = mailReply.startsWith("2") ? rcptOneByOne(m, 0, rcptReplies) : Future.succeededFuture();
            return rcpts.compose(v -> {
                List<Integer> accepted = accepted(m, mailReply, rcptReplies);
                if (accepted.isEmpty()) {
                    return Future.succeededFuture(Sent.NOTHING);
                }
                return io.command("DATA").compose(dataReply -> content(m, accepted, dataReply)).map(Sent::reply);
            });
        });
    }

    /**
     * The recipients (ids) the server accepted; a refused sender's reply becomes every
     * recipient's, replacing whatever their RCPTs got.
     */
    private static List<Integer> accepted(Message m, String mailReply, List<String> rcptReplies) {
        if (!mailReply.startsWith("2")) {
            rcptReplies.clear();
            m.rcptTo().forEach(r -> rcptReplies.add(mailReply));
        }
        List<Integer> accepted = new ArrayList<>();
        for (int i = 0; i < rcptReplies.size(); i++) {
            if (rcptReplies.get(i).startsWith("2")) {
                accepted.add(m.rids().get(i));
            }
        }
        return accepted;
    }

    /**
     * After the reply to DATA: the content and the reply to its end when it was 354, the
     * refusal itself when it was 4xx/5xx.
     */
    private Future<String> content(Message m, List<Integer> accepted, String dataReply) {
        if (dataReply.startsWith("4") || dataReply.startsWith("5")) {
            return Future.succeededFuture(dataReply);
        }
        if (!dataReply.startsWith("354")) {
            // Only 354 lets the content go; taking a 2xx here as the result
            // would mark delivered a message the server never received.
            return Future.failedFuture(new ReplyReader.ProtocolViolation(
                    "reply to DATA: " + ReplyReader.printable(dataReply)));
        }
        return writeContent(m).compose(v -> io.dataEndReply()).compose(end -> {
            if (end.startsWith("250")) {
                log.messageDone(m, accepted);
            } else if (!end.startsWith("4") && !end.startsWith("5")) {
                // RFC 5321 §4.3.2: the end of data gets 250 or a refusal. Anything else (a 220
                // or 354 meant for an earlier command) is not the server taking the message.
                return Future.failedFuture(new ReplyReader.ProtocolViolation(
                        "reply to the end of data: " + ReplyReader.printable(end)));
            }
            return Future.succeededFuture(end);
        });
    }

    private Future<Void> rcptOneByOne(Message m, int i, List<String> into) {
        if (i == m.rcptTo().size()) {
            return Future.succeededFuture();
        }
        return io.command("RCPT TO:<" + m.rcptTo().get(i) + ">").compose(r -> {
            into.add(r);
            return rcptOneByOne(m, i + 1, into);
        });
    }

    /** Writes the content as the socket takes it (no more than its write queue ahead). */
    private Future<Void> writeContent(Message m) {
        Promise<Void> written = Promise.promise();
        io.writing(written);
        NetSocket socket = io.socket();
        DotStuffer pieces = new DotStuffer(m.data());
        Runnable[] pump = new Runnable[1];
        pump[0] = () -> {
            Buffer b;
            while (io.violation() == null && (b = pieces.next()) != null) {
                socket.write(b);
                if (socket.writeQueueFull()) {
                    socket.drainHandler(v -> pump[0].run());
                    return;
                }
            }
            if (io.violation() != null) {
                written.tryFail(io.violation());
            } else {
                written.tryComplete();
            }
        };
        pump[0].run();
        return written.future();
    }
}
