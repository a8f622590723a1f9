package io.tlsgate.delivery.grpc;

import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.QueueUnavailableException;
import io.tlsgate.proto.delivery.v1.DeliveryService;
import io.tlsgate.proto.delivery.v1.EnqueueChunk;
import io.tlsgate.proto.delivery.v1.EnqueueReply;

/**
 * gRPC edge of delivery-service. Status codes are the listener's contract: INVALID_ARGUMENT
 * is permanent (5xx to the client), UNAVAILABLE temporary (451 4.3.0); OK means committed.
 * Enqueue spools the streamed chunks to a temporary file on a worker thread and streams
 * that file into PostgreSQL, so no message is ever held in memory whole.
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
        return request.emitOn(Infrastructure.getDefaultWorkerPool())
                .onItem().invoke(spool::accept)
                .collect().last()
                .onItem().transform(ignored -> {
                    try {
                        return EnqueueReply.newBuilder().setMid(queue.enqueue(spool.message())).build();
                    } catch (IllegalArgumentException e) {
                        throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
                    } catch (QueueUnavailableException e) {
                        throw Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException();
                    }
                })
                .onTermination().invoke(spool::close);
    }
}
