package io.tlsgate.bench;

import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.tlsgate.proto.policy.v1.OutboundPolicy;
import io.tlsgate.proto.policy.v1.PolicyServiceGrpc;
import io.tlsgate.proto.policy.v1.ResolveOutboundRequest;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * An open-loop gRPC load client for PolicyService/ResolveOutbound: sends at a fixed rate
 * whatever the answers do, and measures each call from the moment it was due (so a stalled
 * server shows in the latencies instead of slowing the client: no coordinated omission).
 * Queries are exact domains of the benchmark table (see {@link Tables}).
 * Usage: GrpcLoad HOST GRPC_PORT SECRETS_FILE RATE SECONDS ENTRIES
 */
public final class GrpcLoad {

    public static void main(String[] args) throws Exception {
        int rate = Integer.parseInt(args[3]);
        int seconds = Integer.parseInt(args[4]);
        int entries = Integer.parseInt(args[5]);
        ManagedChannel ch = ServiceChannel.open(args, "delivery-service", "policy-service");
        PolicyServiceGrpc.PolicyServiceStub stub = PolicyServiceGrpc.newStub(ch);

        run(stub, rate, 15, entries, null); // warm-up (JIT), not recorded
        Histogram h = new ConcurrentHistogram(TimeUnit.SECONDS.toNanos(10), 3);
        AtomicLong errors = new AtomicLong();
        long sent = run(stub, rate, seconds, entries, new Recorder(h, errors));
        ch.shutdown().awaitTermination(5, TimeUnit.SECONDS);

        System.out.printf("rate %d/s for %d s: %d calls, %d errors%n", rate, seconds, sent, errors.get());
        System.out.printf("latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f%n",
                h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3, h.getValueAtPercentile(99) / 1e3,
                h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
    }

    private record Recorder(Histogram histogram, AtomicLong errors) {}

    private static long run(PolicyServiceGrpc.PolicyServiceStub stub, int rate, int seconds, int entries, Recorder rec)
            throws InterruptedException {
        long total = (long) rate * seconds;
        long interval = 1_000_000_000L / rate;
        CountDownLatch done = new CountDownLatch((int) total);
        Random r = new Random(4);
        long start = System.nanoTime();
        long k = 0;
        while (k < total) {
            // Send every call that is due, then sleep until the next one is: the client does
            // not spin a core away from the server it measures (both share this machine).
            long now = System.nanoTime();
            while (k < total && start + k * interval <= now) {
                send(stub, start + k * interval, "d" + r.nextInt(entries / 10) * 10 + ".bench.example", done, rec);
                k++;
            }
            long next = start + k * interval - System.nanoTime();
            if (k < total && next > 0) {
                LockSupport.parkNanos(next);
            }
        }
        done.await(30, TimeUnit.SECONDS);
        return total;
    }

    private static void send(PolicyServiceGrpc.PolicyServiceStub stub, long due, String domain, CountDownLatch done,
            Recorder rec) {
        ResolveOutboundRequest req = ResolveOutboundRequest.newBuilder().setDomain(domain).build();
        stub.resolveOutbound(req, new StreamObserver<OutboundPolicy>() {
            @Override
            public void onNext(OutboundPolicy value) {
            }

            @Override
            public void onError(Throwable t) {
                if (rec != null) {
                    rec.errors().incrementAndGet();
                }
                done.countDown();
            }

            @Override
            public void onCompleted() {
                if (rec != null) {
                    rec.histogram().recordValue(Math.max(0, System.nanoTime() - due));
                }
                done.countDown();
            }
        });
    }
}
