package io.tlsgate.delivery.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.tlsgate.platform.grpc.PolicySnapshots;
import io.tlsgate.proto.policy.v1.PolicyChange;
import io.tlsgate.proto.policy.v1.PolicyServiceGrpc;
import io.tlsgate.proto.policy.v1.ResolveRouteRequest;
import io.tlsgate.proto.policy.v1.Route;
import io.tlsgate.proto.policy.v1.WatchChangesRequest;
import java.net.InetSocketAddress;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * platform's policy cache, as the services use it (their generated policy stub), against a policy-service stand-in on loopback (a real gRPC server whose
 * change stream the test drives): what is cached, when it is dropped, and that nothing is
 * cached while the stream is down.
 */
class PolicySnapshotsTest {

    /** The stand-in: answers routes computed from {@link #answerVersion}; counts calls; streams the test's versions. */
    private static final class Policy extends PolicyServiceGrpc.PolicyServiceImplBase {
        final AtomicInteger routeCalls = new AtomicInteger();
        final AtomicLong answerVersion = new AtomicLong();
        final LinkedBlockingQueue<StreamObserver<PolicyChange>> watchers = new LinkedBlockingQueue<>();

        @Override
        public void resolveRoute(ResolveRouteRequest request, StreamObserver<Route> out) {
            routeCalls.incrementAndGet();
            out.onNext(Route.newBuilder().setVersion(answerVersion.get()).build());
            out.onCompleted();
        }

        @Override
        public void watchChanges(WatchChangesRequest request, StreamObserver<PolicyChange> out) {
            watchers.add(out);
        }

        StreamObserver<PolicyChange> watcher() throws InterruptedException {
            StreamObserver<PolicyChange> w = watchers.poll(10, TimeUnit.SECONDS);
            assertTrue(w != null, "the cache opened a change stream");
            return w;
        }
    }

    private Policy policy;
    private Server server;
    private ManagedChannel channel;
    private PolicySnapshots snapshots;
    private PolicySnapshots.Table<Route> routes;
    private final LinkedBlockingQueue<Long> changes = new LinkedBlockingQueue<>();

    @BeforeEach
    void start() throws Exception {
        policy = new Policy();
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(policy).build().start();
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        snapshots = new PolicySnapshots((versions, ended) -> PolicyServiceGrpc.newStub(channel).watchChanges(
                WatchChangesRequest.getDefaultInstance(), PolicySnapshots.observer(PolicyChange::getVersion, versions, ended)));
        routes = snapshots.table(Route::getVersion);
    }

    @AfterEach
    void stop() {
        snapshots.stop();
        channel.shutdownNow();
        server.shutdownNow();
    }

    private Route route(String domain) {
        return routes.get(domain, () -> PolicyServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
                .resolveRoute(ResolveRouteRequest.newBuilder().setDomain(domain).build()));
    }

    private void send(StreamObserver<PolicyChange> watcher, long version) throws InterruptedException {
        watcher.onNext(PolicyChange.newBuilder().setVersion(version).build());
        assertEquals(version, changes.poll(10, TimeUnit.SECONDS), "the change reached the cache");
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < until, what);
            Thread.sleep(20);
        }
    }

    @Test
    void answersAreKeptPerVersionAndDroppedOnAChange() throws Exception {
        snapshots.start(changes::add);
        StreamObserver<PolicyChange> watcher = policy.watcher();
        assertEquals(-1, snapshots.version());
        route("a.test");
        route("a.test");
        assertEquals(2, policy.routeCalls.get(), "nothing is cached before the stream reports a version");

        policy.answerVersion.set(5);
        send(watcher, 5);
        assertEquals(5, route("a.test").getVersion());
        route("a.test");
        route("a.test");
        assertEquals(3, policy.routeCalls.get(), "one call for three lookups of version 5");
        route("b.test");
        assertEquals(4, policy.routeCalls.get(), "keys are cached separately");
        assertEquals(2, routes.size());

        send(watcher, 6);
        assertEquals(0, routes.size(), "a new version empties the table");
        route("a.test");
        route("a.test");
        assertEquals(6, policy.routeCalls.get(), "an answer older than the reported version is not kept");
        policy.answerVersion.set(6);
        route("a.test");
        route("a.test");
        assertEquals(7, policy.routeCalls.get(), "the answer of version 6 is kept");
    }

    @Test
    void nothingIsCachedWhileTheStreamIsBrokenAndItIsReopened() throws Exception {
        snapshots.start(changes::add);
        StreamObserver<PolicyChange> watcher = policy.watcher();
        policy.answerVersion.set(3);
        send(watcher, 3);
        route("a.test");
        route("a.test");
        assertEquals(1, policy.routeCalls.get());

        watcher.onError(io.grpc.Status.UNAVAILABLE.withDescription("policy-service restarting").asRuntimeException());
        await(() -> snapshots.version() == -1, "a broken stream stops caching");
        assertEquals(0, routes.size());
        route("a.test");
        route("a.test");
        assertEquals(3, policy.routeCalls.get(), "every lookup asks while the stream is down");

        StreamObserver<PolicyChange> reopened = policy.watcher();
        send(reopened, 4);
        policy.answerVersion.set(4);
        route("a.test");
        route("a.test");
        assertEquals(4, policy.routeCalls.get(), "caching is back with the stream");
    }

    @Test
    void asynchronousLookupsShareTheTable() throws Exception {
        snapshots.start(changes::add);
        send(policy.watcher(), 9);
        policy.answerVersion.set(9);
        PolicyServiceGrpc.PolicyServiceStub async = PolicyServiceGrpc.newStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS);
        ResolveRouteRequest req = ResolveRouteRequest.newBuilder().setDomain("c.test").build();
        assertEquals(9, routes.getAsync("c.test", o -> async.resolveRoute(req, o)).get(10, TimeUnit.SECONDS).getVersion());
        assertTrue(routes.getAsync("c.test", o -> {
            throw new AssertionError("a current answer is served from the table");
        }).isDone());
        assertEquals(9, route("c.test").getVersion());
        assertEquals(1, policy.routeCalls.get());
    }
}
