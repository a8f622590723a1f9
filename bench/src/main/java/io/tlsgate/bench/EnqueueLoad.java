package io.tlsgate.bench;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.tlsgate.proto.delivery.v1.DeliveryServiceGrpc;
import io.tlsgate.proto.delivery.v1.EnqueueChunk;
import io.tlsgate.proto.delivery.v1.EnqueueReply;
import io.tlsgate.proto.delivery.v1.Envelope;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Puts N messages into delivery-service's queue through gRPC Enqueue (what listener-service
 * calls after DATA), at most {@code CONCURRENCY} calls in flight on one HTTP/2 connection.
 * Each message has one recipient ({@code user<i>@DOMAIN}) and about {@code BODY_BYTES} of body
 * in 72-character lines (the same shape as Postfix's smtp-source with {@code -l}).
 * Usage: EnqueueLoad HOST PORT SERVICE_TOKEN N CONCURRENCY DOMAIN BODY_BYTES
 */
public final class EnqueueLoad {

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String token = args[2];
        int n = Integer.parseInt(args[3]);
        int concurrency = Integer.parseInt(args[4]);
        String domain = args[5];
        int bodyBytes = Integer.parseInt(args[6]);

        Metadata auth = new Metadata();
        auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        ManagedChannel ch = NettyChannelBuilder.forAddress(host, port).usePlaintext().directExecutor()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(auth)).build();
        DeliveryServiceGrpc.DeliveryServiceStub stub = DeliveryServiceGrpc.newStub(ch);

        StringBuilder body = new StringBuilder();
        while (body.length() < bodyBytes) {
            body.append("La de da de da ".repeat(5), 0, Math.min(70, bodyBytes - body.length())).append("\r\n");
        }
        Semaphore inFlight = new Semaphore(concurrency);
        AtomicLong ok = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicReference<Throwable> firstError = new AtomicReference<>();
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            inFlight.acquire();
            String rcpt = "user" + i + "@" + domain;
            byte[] data = ("From: <sender@origin.test>\r\nTo: <" + rcpt + ">\r\nSubject: bench " + i
                    + "\r\nMessage-Id: <bench-" + i + "@origin.test>\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII);
            StreamObserver<EnqueueChunk> req = stub.enqueue(new StreamObserver<>() {
                @Override
                public void onNext(EnqueueReply value) {
                    ok.incrementAndGet();
                }

                @Override
                public void onError(Throwable t) {
                    failed.incrementAndGet();
                    firstError.compareAndSet(null, t);
                    inFlight.release();
                }

                @Override
                public void onCompleted() {
                    inFlight.release();
                }
            });
            req.onNext(EnqueueChunk.newBuilder().setEnvelope(Envelope.newBuilder().setMailFrom("sender@origin.test")
                    .addRcptTo(rcpt).setIcid(i).setListener("bench")).build());
            req.onNext(EnqueueChunk.newBuilder().setData(ByteString.copyFrom(data)).build());
            req.onCompleted();
            if ((i + 1) % 5000 == 0) {
                System.out.printf("  %d sent, %d queued, %.1f s%n", i + 1, ok.get(), (System.nanoTime() - start) / 1e9);
            }
        }
        inFlight.acquire(concurrency);
        double s = (System.nanoTime() - start) / 1e9;
        ch.shutdown().awaitTermination(5, TimeUnit.SECONDS);
        System.out.printf("enqueued %d of %d in %.1f s (%.0f msg/s, %d in flight), %d failed%s%n", ok.get(), n, s, ok.get() / s,
                concurrency, failed.get(), firstError.get() == null ? "" : ": first error " + firstError.get());
        if (failed.get() > 0) {
            System.exit(1);
        }
    }
}
