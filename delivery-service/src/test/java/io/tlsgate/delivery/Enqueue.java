package io.tlsgate.delivery;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.tlsgate.proto.delivery.v1.DeliveryServiceGrpc;
import io.tlsgate.proto.delivery.v1.EnqueueChunk;
import io.tlsgate.proto.delivery.v1.EnqueueReply;
import io.tlsgate.proto.delivery.v1.Envelope;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** A test client of the client-streaming Enqueue, as listener-service calls it. */
final class Enqueue {

    private Enqueue() {}

    /** The envelope, then the data in chunks of {@code chunk} bytes. */
    static List<EnqueueChunk> chunks(Envelope envelope, byte[] data, int chunk) {
        List<EnqueueChunk> out = new ArrayList<>();
        out.add(EnqueueChunk.newBuilder().setEnvelope(envelope).build());
        for (int off = 0; off < data.length; off += chunk) {
            out.add(EnqueueChunk.newBuilder().setData(ByteString.copyFrom(data, off, Math.min(chunk, data.length - off)))
                    .build());
        }
        return out;
    }

    /** Streams the chunks and waits for the MID; a refusal is thrown as its StatusRuntimeException. */
    static long send(ManagedChannel ch, List<EnqueueChunk> chunks) {
        CompletableFuture<EnqueueReply> reply = new CompletableFuture<>();
        StreamObserver<EnqueueChunk> req = DeliveryServiceGrpc.newStub(ch).enqueue(new StreamObserver<>() {
            @Override
            public void onNext(EnqueueReply value) {
                reply.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                reply.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                reply.completeExceptionally(new IllegalStateException("completed without a reply"));
            }
        });
        for (EnqueueChunk c : chunks) {
            if (reply.isDone()) {
                break; // refused early (e.g. too large): stop sending
            }
            req.onNext(c);
        }
        req.onCompleted();
        try {
            return reply.get(60, TimeUnit.SECONDS).getMid();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw new IllegalStateException(e.getCause());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
