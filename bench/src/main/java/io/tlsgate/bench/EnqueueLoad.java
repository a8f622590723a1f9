package io.tlsgate.bench;

import io.grpc.ManagedChannel;
import io.tlsgate.proto.delivery.v1.Envelope;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Puts N messages into delivery-service's queue through gRPC Enqueue (what listener-service
 * calls after DATA), at most {@code CONCURRENCY} calls in flight on one HTTP/2 connection.
 * Each message has one recipient ({@code user<i>@DOMAIN}) and about {@code BODY_BYTES} of body
 * in 72-character lines (the same shape as Postfix's smtp-source with {@code -l}).
 * Usage: EnqueueLoad HOST GRPC_PORT SECRETS_FILE N CONCURRENCY DOMAIN BODY_BYTES
 */
public final class EnqueueLoad {

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[3]);
        int concurrency = Integer.parseInt(args[4]);
        String domain = args[5];
        int bodyBytes = Integer.parseInt(args[6]);

        ManagedChannel ch = ServiceChannel.open(args, "listener-service", "delivery-service");
        EnqueueCalls calls = new EnqueueCalls(ch, concurrency);

        StringBuilder body = new StringBuilder();
        while (body.length() < bodyBytes) {
            body.append("La de da de da ".repeat(5), 0, Math.min(70, bodyBytes - body.length())).append("\r\n");
        }
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            String rcpt = "user" + i + "@" + domain;
            byte[] data = ("From: <sender@origin.test>\r\nTo: <" + rcpt + ">\r\nSubject: bench " + i
                    + "\r\nMessage-Id: <bench-" + i + "@origin.test>\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII);
            calls.send(Envelope.newBuilder().setMailFrom("sender@origin.test").addRcptTo(rcpt).setIcid(i).setListener("bench").build(),
                    data);
            if ((i + 1) % 5000 == 0) {
                System.out.printf("  %d sent, %d queued, %.1f s%n", i + 1, calls.ok.get(), (System.nanoTime() - start) / 1e9);
            }
        }
        calls.awaitAll();
        double s = (System.nanoTime() - start) / 1e9;
        ch.shutdown().awaitTermination(5, TimeUnit.SECONDS);
        Throwable firstError = calls.firstError.get();
        System.out.printf("enqueued %d of %d in %.1f s (%.0f msg/s, %d in flight), %d failed%s%n", calls.ok.get(), n, s,
                calls.ok.get() / s, concurrency, calls.failed.get(), firstError == null ? "" : ": first error " + firstError);
        if (calls.failed.get() > 0) {
            System.exit(1);
        }
    }
}
