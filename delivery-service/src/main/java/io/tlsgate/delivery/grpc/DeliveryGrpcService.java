package io.tlsgate.delivery.grpc;

import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.QueueUnavailableException;
import io.tlsgate.proto.delivery.v1.DeliveryService;
import io.tlsgate.proto.delivery.v1.EnqueueChunk;
import io.tlsgate.proto.delivery.v1.EnqueueReply;

/**
 * gRPC edge of delivery-service. Status codes are the listener's contract: INVALID_ARGUMENT
 * is permanent (5xx to the client), UNAVAILABLE temporary (451 4.3.0); OK means committed.
 * Enqueue collects the streamed chunks ({@link Spool}: in memory for most messages, a
 * temporary file for large ones) and answers once the queue committed the message.
 */
@GrpcService
public class DeliveryGrpcService implements DeliveryService {

    private final MessageQueue queue;
    private final DeliveryConfig config;

    DeliveryGrpcService(MessageQueue queue, DeliveryConfig config) {
        this.queue = queue;
        this.config = config;
    }

    @Override
    public Uni<EnqueueReply> enqueue(Multi<EnqueueChunk> request) {
        Spool spool = new Spool(config.maxMessageSize());
        // Chunks are taken on the gRPC thread (a message up to Spool.IN_MEMORY stays in memory;
        // beyond, chunks are appended to a temporary file); the commit is the queue's.
        return request.onItem().invoke(spool::accept)
                .collect().last()
                .onItem().transformToUni(ignored -> Uni.createFrom().completionStage(() -> queue.enqueueAsync(spool.message())))
                .onItem().transform(mid -> EnqueueReply.newBuilder().setMid(mid).build())
                .onFailure(IllegalArgumentException.class)
                .transform(e -> Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException())
                .onFailure(QueueUnavailableException.class)
                .transform(e -> Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException())
                .onTermination().invoke(spool::close);
    }
}
