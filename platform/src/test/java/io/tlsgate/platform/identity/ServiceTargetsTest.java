package io.tlsgate.platform.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Channels to a list of replicas: real gRPC servers on loopback, each answering with its name. */
class ServiceTargetsTest {

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };
    private static final MethodDescriptor<byte[], byte[]> WHO = MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("test.Replica/Who")
            .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();

    @Test
    void callsAreSpreadOverTheReplicasAndAKilledOneTakesOnlyItsOwnCalls() throws Exception {
        Server a = replica("a");
        Server b = replica("b");
        String target = "127.0.0.1:" + a.getPort() + ", localhost:" + b.getPort();
        ManagedChannel channel = ServiceTargets.configure(NettyChannelBuilder.forTarget(ServiceTargets.channelTarget(target)))
                .usePlaintext().build();
        try {
            // Until both connections are up, calls go to the one that is (a replica still starting gets none).
            Map<String, Integer> warm = new HashMap<>();
            for (int i = 0; i < 100 && warm.size() < 2; i++) {
                warm.merge(who(channel), 1, Integer::sum);
                Thread.sleep(10);
            }
            assertEquals(2, warm.size(), "both replicas answer: " + warm);
            Map<String, Integer> seen = calls(channel, 20);
            assertEquals(Map.of("a", 10, "b", 10), seen, "round-robin over both replicas");

            a.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            // Calls already on the way to a replica that dies fail; new ones go to the one left.
            int failed = 0;
            Map<String, Integer> after = new HashMap<>();
            for (int i = 0; i < 20; i++) {
                try {
                    after.merge(who(channel), 1, Integer::sum);
                } catch (StatusRuntimeException e) {
                    failed++;
                }
            }
            assertTrue(failed <= 1, "at most the call racing the shutdown fails: " + failed);
            assertEquals(Map.of("b", 20 - failed), after);
        } finally {
            channel.shutdownNow();
            a.shutdownNow();
            b.shutdownNow();
        }
    }

    @Test
    void aSingleAddressIsLeftToDns() {
        assertEquals("delivery:8093", ServiceTargets.channelTarget("delivery:8093"));
        assertEquals("tlsgate-replicas:///a:1,%5B::1%5D:2", ServiceTargets.channelTarget(" a:1, [::1]:2 "));
    }

    @Test
    void listsAreParsedStrictly() {
        assertEquals(List.of(InetSocketAddress.createUnresolved("::1", 8093), InetSocketAddress.createUnresolved("d2", 8193)),
                ServiceTargets.parse("[::1]:8093, d2:8193,"));
        for (String bad : List.of("a,b:1", "a:x,b:1", "a:0,b:1", ":1,b:2", ",")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServiceTargets.parse(bad), bad);
            assertTrue(e.getMessage().contains(bad), e.getMessage());
        }
    }

    private static Map<String, Integer> calls(ManagedChannel channel, int n) {
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < n; i++) {
            seen.merge(who(channel), 1, Integer::sum);
        }
        return seen;
    }

    private static String who(ManagedChannel channel) {
        byte[] r = ClientCalls.blockingUnaryCall(channel, WHO, CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS)
                .withWaitForReady(), new byte[0]);
        return new String(r, StandardCharsets.UTF_8);
    }

    private static Server replica(String name) throws IOException {
        ServerServiceDefinition service = ServerServiceDefinition.builder("test.Replica")
                .addMethod(WHO, ServerCalls.asyncUnaryCall((req, reply) -> {
                    reply.onNext(name.getBytes(StandardCharsets.UTF_8));
                    reply.onCompleted();
                }))
                .build();
        return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(service).build().start();
    }
}
