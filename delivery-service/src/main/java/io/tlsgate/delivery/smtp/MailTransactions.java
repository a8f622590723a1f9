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
 * The mail transactions of one use of a connection: for each message MAIL, RCPT (pipelined
 * when the EHLO reply offers it), DATA and the content, RSET between messages; {@code ehlo}
 * is the EHLO reply that applies to them (after STARTTLS: the second one).
 */
record MailTransactions(SessionIo io, MailLog log, String ehlo) {

    /** The messages from {@code i} on, RSET between them; stops at a refused RSET. */
    Future<Void> send(List<Message> messages, int i, List<Transaction> done) {
        if (i == messages.size()) {
            return Future.succeededFuture();
        }
        Future<Boolean> ready = i == 0 ? Future.succeededFuture(true) : io.command("RSET").map(r -> r.startsWith("2"));
        return ready.compose(ok -> {
            if (!ok) {
                return Future.succeededFuture();
            }
            Message m = messages.get(i);
            List<String> rcptReplies = new ArrayList<>();
            return transaction(m, rcptReplies).compose(dataReply -> {
                done.add(new Transaction(m.mid(), List.copyOf(rcptReplies), dataReply));
                return send(messages, i + 1, done);
            });
        });
    }

    /**
     * MAIL, RCPT (pipelined when offered), DATA for one message; the reply to the end of
     * DATA, the refusal of DATA itself, or null when nothing was sent.
     */
    private Future<String> transaction(Message m, List<String> rcptReplies) {
        log.deliveryStart(m);
        Future<String> mail;
        if (TlsNegotiation.advertises(ehlo, "PIPELINING")) {
            // RFC 2920: MAIL and every RCPT in one write, then exactly as many replies, in order.
            List<String> group = new ArrayList<>();
            group.add("MAIL FROM:<" + m.mailFrom() + ">");
            m.rcptTo().forEach(r -> group.add("RCPT TO:<" + r + ">"));
            mail = io.commands(group).map(all -> {
                rcptReplies.addAll(all.subList(1, all.size()));
                return all.get(0);
            });
        } else {
            mail = io.command("MAIL FROM:<" + m.mailFrom() + ">").compose(mailReply -> mailReply.startsWith("2")
                    ? rcptOneByOne(m, 0, rcptReplies).map(v -> mailReply) : Future.succeededFuture(mailReply));
        }
        return mail.compose(mailReply -> {
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
            if (accepted.isEmpty()) {
                return Future.succeededFuture(null);
            }
            return io.command("DATA").compose(dataReply -> {
                if (dataReply.startsWith("4") || dataReply.startsWith("5")) {
                    return Future.succeededFuture(dataReply);
                }
                if (!dataReply.startsWith("354")) {
                    // Only 354 lets the content go; taking a 2xx here as the result
                    // would mark delivered a message the server never received.
                    return Future.failedFuture(new ReplyReader.ProtocolViolation(
                            "reply to DATA: " + ReplyReader.printable(dataReply)));
                }
                return writeContent(m).compose(v -> io.dataEndReply()).map(end -> {
                    if (end.startsWith("2")) {
                        log.messageDone(m, accepted);
                    }
                    return end;
                });
            });
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
