package io.tlsgate.bench;

import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import io.tlsgate.proto.delivery.v1.DeliveryServiceGrpc;
import io.tlsgate.proto.delivery.v1.EnqueueChunk;
import io.tlsgate.proto.delivery.v1.EnqueueReply;
import io.tlsgate.proto.delivery.v1.Envelope;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * gRPC Enqueue calls to delivery-service (what listener-service makes after DATA): one message
 * a call, as an envelope chunk and a data chunk, at most {@code limit} calls in flight. Counts
 * the messages queued and the calls that failed, and keeps the first failure.
 */
final class EnqueueCalls {

    final AtomicLong ok = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    final AtomicReference<Throwable> firstError = new AtomicReference<>();
    private final DeliveryServiceGrpc.DeliveryServiceStub stub;
    private final Semaphore inFlight;
    private final int limit;

    EnqueueCalls(Channel channel, int limit) {
        this.stub = DeliveryServiceGrpc.newStub(channel);
        this.inFlight = new Semaphore(limit);
        this.limit = limit;
    }

    /** Sends one message as soon as fewer than {@code limit} calls are in flight. */
    void send(Envelope envelope, byte[] data) throws InterruptedException {
        inFlight.acquire();
        call(envelope, data);
    }

    /** Sends one message if fewer than {@code limit} calls are in flight; false (nothing sent) if not. */
    boolean trySend(Envelope envelope, byte[] data) {
        if (!inFlight.tryAcquire()) {
            return false;
        }
        call(envelope, data);
        return true;
    }

    /** Waits until every call sent has ended. */
    void awaitAll() throws InterruptedException {
        inFlight.acquire(limit);
    }

    private void call(Envelope envelope, byte[] data) {
        StreamObserver<EnqueueChunk> req = stub.enqueue(new StreamObserver<EnqueueReply>() {
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
        req.onNext(EnqueueChunk.newBuilder().setEnvelope(envelope).build());
        req.onNext(EnqueueChunk.newBuilder().setData(ByteString.copyFrom(data)).build());
        req.onCompleted();
    }
}
