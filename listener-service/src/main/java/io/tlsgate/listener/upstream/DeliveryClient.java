package io.tlsgate.listener.upstream;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.quarkus.runtime.ShutdownEvent;
import io.tlsgate.listener.ListenerConfig;
import io.tlsgate.platform.auth.ServiceTokenClientInterceptor;
import io.tlsgate.proto.delivery.v1.DeliveryServiceGrpc;
import io.tlsgate.proto.delivery.v1.EnqueueChunk;
import io.tlsgate.proto.delivery.v1.EnqueueReply;
import io.tlsgate.proto.delivery.v1.Envelope;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.concurrent.CompletableFuture;

/**
 * Hands messages to delivery-service: one client-streaming {@code Enqueue} per message, the
 * envelope first, then the content as it arrives from the client. The reply (the MID) comes
 * only after delivery-service committed the message, and only then may the client hear 250.
 */
@ApplicationScoped
public class DeliveryClient {

    /** One message on its way. Not thread-safe: used from its connection's event loop. */
    public static final class Call {
        private final CompletableFuture<Long> mid = new CompletableFuture<>();
        private volatile ClientCallStreamObserver<EnqueueChunk> stream;
        private volatile Runnable onReady = () -> { };

        /** Sends a piece of content. */
        public void data(ByteString bytes) {
            if (!mid.isDone()) {
                stream.onNext(EnqueueChunk.newBuilder().setData(bytes).build());
            }
        }

        /** Whether gRPC would rather not take more now (the caller stops reading from its client). */
        public boolean backedUp() {
            return !stream.isReady() && !mid.isDone();
        }

        /** Runs (on a gRPC thread) when the stream takes data again, or the call ended. */
        public void onReady(Runnable r) {
            onReady = r;
        }

        /** The content is complete: the future completes with the MID once it is committed. */
        public CompletableFuture<Long> finish() {
            if (!mid.isDone()) {
                stream.onCompleted();
            }
            return mid;
        }

        /** Abandons the message (too big, client gone): nothing is queued. */
        public void cancel(String why) {
            if (!mid.isDone()) {
                stream.cancel(why, null);
            }
        }

        /** Whether the call already failed (delivery-service down, refused). */
        public boolean failed() {
            return mid.isCompletedExceptionally();
        }

        public CompletableFuture<Long> result() {
            return mid;
        }
    }

    private final ManagedChannel channel;

    DeliveryClient(ListenerConfig config, ServiceTokenClientInterceptor token) {
        this.channel = ManagedChannelBuilder.forTarget(config.deliveryService()).usePlaintext().intercept(token)
                .maxInboundMessageSize(64 * 1024).build();
    }

    void stop(@Observes ShutdownEvent ignored) {
        channel.shutdownNow();
    }

    /** Opens an Enqueue and sends the envelope. */
    public Call enqueue(Envelope envelope) {
        Call call = new Call();
        DeliveryServiceGrpc.newStub(channel).enqueue(new ClientResponseObserver<EnqueueChunk, EnqueueReply>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<EnqueueChunk> s) {
                call.stream = s;
                s.setOnReadyHandler(() -> call.onReady.run());
            }

            @Override
            public void onNext(EnqueueReply reply) {
                call.mid.complete(reply.getMid());
            }

            @Override
            public void onError(Throwable t) {
                call.mid.completeExceptionally(t);
                call.onReady.run();
            }

            @Override
            public void onCompleted() {
                call.mid.completeExceptionally(Status.INTERNAL.withDescription("no MID in the reply").asRuntimeException());
            }
        });
        call.stream.onNext(EnqueueChunk.newBuilder().setEnvelope(envelope).build());
        return call;
    }
}
