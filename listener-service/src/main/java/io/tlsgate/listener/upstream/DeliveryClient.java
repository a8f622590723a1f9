package io.tlsgate.listener.upstream;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.quarkus.runtime.ShutdownEvent;
import io.tlsgate.listener.ListenerConfig;
import io.tlsgate.platform.grpc.InternalChannels;
import io.tlsgate.platform.identity.ServiceIdentity;
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
        private boolean finished;

        /** Sends a piece of content. */
        public void data(ByteString bytes) {
            if (!mid.isDone() && !finished) {
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
            if (!mid.isDone() && !finished) {
                finished = true;
                stream.onCompleted();
            }
            return mid;
        }

        /**
         * Abandons the message before its end (too big, client gone): an Abort chunk and a normal
         * end of stream, so delivery-service queues nothing and answers ABORTED. No RST_STREAM:
         * many of those (one per client that hangs up mid-DATA) would make the server's
         * rapid-reset guard close the connection, failing the other messages on it.
         */
        public void abort(String why) {
            if (!mid.isDone() && !finished) {
                finished = true;
                stream.onNext(EnqueueChunk.newBuilder().setAbort(io.tlsgate.proto.delivery.v1.Abort.newBuilder().setReason(why))
                        .build());
                stream.onCompleted();
            }
        }

        /** Cancels the call outright (no commit in time after the end of data). No-op once it completed. */
        public void cancel(String why) {
            stream.cancel(why, null);
        }

        /** Whether the call already failed (delivery-service down, refused). */
        public boolean failed() {
            return mid.isCompletedExceptionally();
        }

        public CompletableFuture<Long> result() {
            return mid;
        }
    }

    private static final long RECONNECT_WAIT_MS = 2000;

    private final ManagedChannel channel;
    private final ListenerConfig config;

    DeliveryClient(ListenerConfig config, InternalChannels channels) {
        this.config = config;
        this.channel = channels.open(config.deliveryService(), ServiceIdentity.DELIVERY, 64 * 1024);
    }

    void stop(@Observes ShutdownEvent ignored) {
        channel.shutdownNow();
    }

    /**
     * After delivery-service was away, gRPC waits longer and longer before it reconnects; a
     * message arriving now should not fail because of that, so try again at once.
     */
    static void awake(ManagedChannel channel) {
        if (channel.getState(false) == io.grpc.ConnectivityState.TRANSIENT_FAILURE) {
            channel.resetConnectBackoff();
        }
    }

    /**
     * Completes when delivery-service can be called: at once when connected (or never tried),
     * else after a reconnect attempt made now, not after gRPC's back-off; fails when that
     * attempt fails or takes longer than the upstream timeout (the caller answers 451 then).
     * Completes on a gRPC thread.
     */
    public CompletableFuture<Void> ready() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        io.grpc.ConnectivityState s = channel.getState(true);
        if (s == io.grpc.ConnectivityState.READY || s == io.grpc.ConnectivityState.IDLE) {
            f.complete(null);
            return f;
        }
        awake(channel);
        follow(f, channel.getState(false));
        // gRPC keeps reporting TRANSIENT_FAILURE until a connection is READY again, so a failed
        // attempt shows only as time passing: a live server answers a reconnect in milliseconds.
        return f.orTimeout(Math.min(RECONNECT_WAIT_MS, config.upstreamTimeout().toMillis()), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    private void follow(CompletableFuture<Void> f, io.grpc.ConnectivityState seen) {
        switch (seen) {
            case READY -> f.complete(null);
            case SHUTDOWN -> f.completeExceptionally(Status.UNAVAILABLE.withDescription("stopping").asRuntimeException());
            default -> channel.notifyWhenStateChanged(seen, () -> {
                if (!f.isDone()) {
                    follow(f, channel.getState(false));
                }
            });
        }
    }

    /** Opens an Enqueue and sends the envelope. */
    public Call enqueue(Envelope envelope) {
        Call call = new Call();
        awake(channel);
        // A backstop: a session never lasts longer, so neither may its message's stream.
        DeliveryServiceGrpc.newStub(channel).withDeadlineAfter(config.sessionTimeout().plus(config.enqueueTimeout()).toMillis(),
                java.util.concurrent.TimeUnit.MILLISECONDS).enqueue(new ClientResponseObserver<EnqueueChunk, EnqueueReply>() {
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
