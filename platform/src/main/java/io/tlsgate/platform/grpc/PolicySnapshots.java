package io.tlsgate.platform.grpc;

import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;
import org.jboss.logging.Logger;

/**
 * policy-service's answers, cached by the version of the policy they were computed from: the
 * one cache of every service that asks policy-service (delivery: outbound policy, routes,
 * settings; listener: inbound policy, RAT). A {@code WatchChanges} stream reports each new
 * version; every {@link Table} is emptied as soon as one arrives, and while the stream is
 * broken nothing is cached (it is reopened after {@link #RETRY_SECONDS}), so a policy change applies
 * to the next lookup everywhere. An answer is kept only when it is at least as new as the
 * version the stream last reported, so an answer fetched before a change never outlives the
 * change's invalidation. No answer means no guess: lookups fail and callers defer.
 */
public final class PolicySnapshots {

    /** How long a broken change stream waits before it is opened again. */
    public static final long RETRY_SECONDS = 2;
    /** A table that reaches this many entries starts again empty (a bound, not an eviction policy). */
    public static final int MAX_CACHED = 100_000;

    private static final Logger LOG = Logger.getLogger(PolicySnapshots.class);

    /**
     * How to open policy-service's {@code WatchChanges} stream (each service has its own generated
     * stub): every version it reports goes to {@code versions}; its end, to {@code ended} (null
     * when it completed).
     */
    @FunctionalInterface
    public interface ChangeStream {
        void open(LongConsumer versions, Consumer<Throwable> ended);
    }

    private final ChangeStream stream;
    private final List<Table<?>> tables = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService retry;
    /** The newest version the stream reported; -1 while it is not connected (no caching). */
    private volatile long version = -1;
    private volatile boolean running;
    private volatile LongConsumer onChange = v -> { };

    /** Snapshots of the policy-service whose changes {@code stream} follows. */
    public PolicySnapshots(ChangeStream stream) {
        this.stream = stream;
        this.retry = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "policy-watch");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts following changes; {@code changed} runs (on a gRPC thread) with each new version. */
    public void start(LongConsumer changed) {
        onChange = changed;
        running = true;
        watch();
    }

    public void stop() {
        running = false;
        retry.shutdownNow();
    }

    /** The version the tables follow; -1 while the change stream is down. */
    public long version() {
        return version;
    }

    /** A new keyed table of answers of one kind; {@code versionOf} reads the policy version an answer was computed from. */
    public <T> Table<T> table(ToLongFunction<T> versionOf) {
        Table<T> t = new Table<>(versionOf);
        tables.add(t);
        return t;
    }

    /** Cached answers of one kind, by key. */
    public final class Table<T> {
        private final Map<String, T> answers = new ConcurrentHashMap<>();
        private final ToLongFunction<T> versionOf;

        private Table(ToLongFunction<T> versionOf) {
            this.versionOf = versionOf;
        }

        /** The answer for {@code key}: cached when current, else {@code fetch}ed (blocking) and kept. */
        public T get(String key, Supplier<T> fetch) {
            T hit = current(key);
            if (hit != null) {
                return hit;
            }
            T fresh = fetch.get();
            keep(key, fresh);
            return fresh;
        }

        /**
         * As {@link #get}, without blocking: {@code call} starts the gRPC call with the observer
         * to answer; the future completes on a gRPC thread (or at once on a hit).
         */
        public CompletableFuture<T> getAsync(String key, Consumer<StreamObserver<T>> call) {
            T hit = current(key);
            if (hit != null) {
                return CompletableFuture.completedFuture(hit);
            }
            CompletableFuture<T> f = new CompletableFuture<>();
            call.accept(new StreamObserver<>() {
                @Override
                public void onNext(T fresh) {
                    keep(key, fresh);
                    f.complete(fresh);
                }

                @Override
                public void onError(Throwable t) {
                    f.completeExceptionally(t);
                }

                @Override
                public void onCompleted() {
                    f.completeExceptionally(new IllegalStateException("no answer"));
                }
            });
            return f;
        }

        /** Entries held now. */
        public int size() {
            return answers.size();
        }

        private T current(String key) {
            long v = version;
            T hit = v >= 0 ? answers.get(key) : null;
            return hit != null && versionOf.applyAsLong(hit) >= v ? hit : null;
        }

        private void keep(String key, T fresh) {
            long v = version;
            if (v >= 0 && versionOf.applyAsLong(fresh) >= v) {
                if (answers.size() >= MAX_CACHED) {
                    answers.clear();
                }
                answers.put(key, fresh);
            }
        }

        private void clear() {
            answers.clear();
        }
    }

    /** The observer of a {@code WatchChanges} call whose messages carry a version ({@code versionOf}). */
    public static <T> StreamObserver<T> observer(ToLongFunction<T> versionOf, LongConsumer versions, Consumer<Throwable> ended) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T change) {
                versions.accept(versionOf.applyAsLong(change));
            }

            @Override
            public void onError(Throwable t) {
                ended.accept(t);
            }

            @Override
            public void onCompleted() {
                ended.accept(null);
            }
        };
    }

    private void watch() {
        if (!running) {
            return;
        }
        stream.open(this::changed, t -> broken(t == null ? "ended" : "failed: " + t.getMessage()));
    }

    private void changed(long v) {
        if (v != version) {
            tables.forEach(Table::clear);
            version = v;
            LOG.debugf("policy version %d: caches dropped", v);
            onChange.accept(v);
        }
    }

    private void broken(String why) {
        version = -1;
        tables.forEach(Table::clear);
        if (running) {
            LOG.debugf("policy-service change stream %s; caching stops until it is back", why);
            retry.schedule(this::watch, RETRY_SECONDS, TimeUnit.SECONDS);
        }
    }
}
