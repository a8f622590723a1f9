package io.tlsgate.delivery.grpc;

import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;
import io.tlsgate.delivery.queue.MessageQueue;
import io.tlsgate.delivery.queue.NewMessage;
import io.tlsgate.delivery.queue.QueueUnavailableException;
import io.tlsgate.proto.delivery.v1.DeliveryService;
import io.tlsgate.proto.delivery.v1.EnqueueReply;
import io.tlsgate.proto.delivery.v1.EnqueueRequest;
import java.util.List;

/**
 * gRPC edge of delivery-service. Status codes are the listener's contract: INVALID_ARGUMENT
 * is permanent (5xx to the client), UNAVAILABLE temporary (451 4.3.0); OK means committed.
 */
@GrpcService
public class DeliveryGrpcService implements DeliveryService {

    private final MessageQueue queue;

    DeliveryGrpcService(MessageQueue queue) {
        this.queue = queue;
    }

    @Override
    @Blocking
    public Uni<EnqueueReply> enqueue(EnqueueRequest request) {
        NewMessage m = new NewMessage(request.getMailFrom(), List.copyOf(request.getRcptToList()),
                request.getData().toByteArray(), request.getIcid(), request.getListener());
        try {
            return Uni.createFrom().item(EnqueueReply.newBuilder().setMid(queue.enqueue(m)).build());
        } catch (IllegalArgumentException e) {
            return Uni.createFrom().failure(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
        } catch (QueueUnavailableException e) {
            return Uni.createFrom().failure(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
        }
    }
}
