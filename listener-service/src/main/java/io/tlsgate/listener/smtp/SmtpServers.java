package io.tlsgate.listener.smtp;

import io.tlsgate.platform.events.Outbox;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.tlsgate.listener.ListenerConfig;
import io.tlsgate.listener.TlsRenegotiation;
import io.tlsgate.listener.upstream.CertClient;
import io.tlsgate.listener.upstream.DeliveryClient;
import io.tlsgate.listener.upstream.PolicyClient;
import io.tlsgate.platform.dns.ReverseDns;
import io.tlsgate.proto.policy.v1.Listener;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * The SMTP listeners policy-service lists, served by Netty on Vert.x's event loops (no thread
 * per connection). Listeners are re-read at start, on every policy version and every 30
 * seconds: new ones are bound, removed ones unbound (their open sessions finish), a changed
 * address or port is re-bound; other changes (host name, limits) apply to new connections.
 */
@ApplicationScoped
public class SmtpServers {

    private static final Logger LOG = Logger.getLogger(SmtpServers.class);

    /** A bound listener: server channel and its admission (which holds the current settings). */
    public static final class Bound {
        final Channel server;
        final Admission admission;

        Bound(Channel server, Admission admission) {
            this.server = server;
            this.admission = admission;
        }

        /** The listener's settings now (replaced when policy-service changes them). */
        public Listener listener() {
            return admission.limits;
        }

        public String address() {
            InetSocketAddress a = (InetSocketAddress) server.localAddress();
            return a.getAddress().getHostAddress() + ":" + a.getPort();
        }

        public int connections() {
            return admission.total.get();
        }
    }

    /** The listener's current settings and connection counts (in all and per client address). */
    public static final class Admission {
        private final AtomicInteger total = new AtomicInteger();
        private final Map<String, Integer> perClient = new ConcurrentHashMap<>();
        private volatile Listener limits;

        Admission(Listener limits) {
            this.limits = limits;
        }

        /** Null when admitted (then {@link #release} must follow), else the 421 to answer. */
        Reply admit(String ip) {
            Listener l = limits;
            if (total.incrementAndGet() > l.getMaxConcurrentConnections()) {
                total.decrementAndGet();
                return Reply.TOO_MANY_CONNECTIONS;
            }
            boolean[] over = new boolean[1];
            // Check and count in one step, so a release on another event loop cannot lose a count.
            perClient.compute(ip, (k, n) -> {
                int now = n == null ? 0 : n;
                if (now >= Math.max(1, l.getMaxConnectionsPerClient())) {
                    over[0] = true;
                    return n;
                }
                return now + 1;
            });
            if (over[0]) {
                total.decrementAndGet();
                return Reply.TOO_MANY_CONNECTIONS_FROM_CLIENT;
            }
            return null;
        }

        void release(String ip) {
            total.decrementAndGet();
            perClient.computeIfPresent(ip, (k, n) -> n <= 1 ? null : n - 1);
        }
    }

    private final ListenerConfig config;
    private final PolicyClient policy;
    private final CertClient certs;
    private final Vertx vertx;
    private final SmtpProtocol protocol;
    private final Map<String, Bound> bound = new ConcurrentHashMap<>();
    private final ChannelGroup sessions = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final AtomicLong icids = new AtomicLong(1 + new SecureRandom().nextInt(Integer.MAX_VALUE));
    private final ScheduledExecutorService reconciler;
    private volatile boolean listed;
    private volatile String lastError;

    SmtpServers(ListenerConfig config, PolicyClient policy, CertClient certs, DeliveryClient delivery, Outbox events,
            Vertx vertx, io.tlsgate.platform.dns.DnsResolver dns, io.tlsgate.platform.bounce.BounceVerification bounce) {
        this.config = config;
        this.policy = policy;
        this.certs = certs;
        this.vertx = vertx;
        this.protocol = SmtpProtocol.of(SessionSettings.of(config),
                new ServiceUpstream(new ReverseDns(dns, config.reverseDnsTimeout()), policy, certs, delivery, events), bounce);
        this.reconciler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "smtp-listeners");
            t.setDaemon(true);
            return t;
        });
    }

    void start(@Observes StartupEvent ignored) {
        if (!config.smtpEnabled()) {
            LOG.info("SMTP disabled (tlsgate.listener.smtp-enabled=false)");
            listed = true;
            return;
        }
        // Normally set already (JVM option, ListenerMain); here too for dev mode and tests, and
        // before any listener is bound, so at the latest before the first STARTTLS handshake.
        String before = TlsRenegotiation.refuseClientInitiated();
        if (!"true".equals(before)) {
            LOG.warnf("%s was %s; set to true now, before the first listener is bound (start the JVM with "
                    + "-D%s=true or through ListenerMain, so that it is in force before anything serves TLS)",
                    TlsRenegotiation.PROPERTY, before == null ? "not set" : before, TlsRenegotiation.PROPERTY);
        }
        policy.watch(version -> reconciler.execute(this::reconcile));
        reconciler.scheduleWithFixedDelay(this::reconcile, 0, 30, TimeUnit.SECONDS);
    }

    void stop(@Observes ShutdownEvent ignored) {
        reconciler.shutdownNow();
        for (Bound b : bound.values()) {
            b.server.close().syncUninterruptibly();
        }
        // Open sessions end with 421; a message not yet answered 250 is not queued, the client retries.
        for (Channel c : sessions) {
            SmtpSession s = c.pipeline().get(SmtpSession.class);
            if (s != null) {
                c.eventLoop().execute(s::shutdown);
            }
        }
        sessions.newCloseFuture().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    /** Listeners now bound, by name. */
    public Map<String, Bound> bound() {
        return Map.copyOf(bound);
    }

    /** Whether every listener policy-service lists is bound. */
    public boolean ready() {
        return listed && lastError == null;
    }

    public String lastError() {
        return lastError;
    }

    synchronized void reconcile() {
        Map<String, Listener> wanted = new LinkedHashMap<>();
        try {
            for (Listener l : policy.listeners().getListenersList()) {
                wanted.put(l.getName(), l);
            }
        } catch (RuntimeException e) {
            LOG.debugf("listeners not refreshed (policy-service: %s); keeping %s", e.getMessage(), bound.keySet());
            if (!listed) {
                lastError = "policy-service not reachable: " + e.getMessage();
            }
            return;
        }
        String error = null;
        for (String name : bound.keySet()) {
            Bound b = bound.get(name);
            Listener l = wanted.get(name);
            if (l == null || !l.getBindAddress().equals(b.listener().getBindAddress()) || l.getPort() != b.listener().getPort()) {
                LOG.infof("listener %s: unbinding %s", name, b.address());
                b.server.close().syncUninterruptibly();
                bound.remove(name);
            } else {
                b.admission.limits = l;
            }
        }
        for (Listener l : wanted.values()) {
            certs.follow(l.getCertificateSlot());
            if (!bound.containsKey(l.getName())) {
                try {
                    bound.put(l.getName(), bind(l));
                } catch (RuntimeException e) {
                    error = "listener " + l.getName() + " could not bind " + host(l) + ":" + port(l) + ": " + e.getMessage();
                    LOG.error(error);
                }
            }
        }
        listed = true;
        lastError = error;
    }

    private Bound bind(Listener l) {
        Admission admission = new Admission(l);
        int maxLine = 512 + Math.max(0, config.commandLineTolerance());
        ServerBootstrap b = new ServerBootstrap()
                .group(vertx.nettyEventLoopGroup())
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                // Replies beyond 64 KiB unread by the client stop the session from reading more commands.
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new io.netty.channel.WriteBufferWaterMark(16 * 1024, 64 * 1024))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        sessions.add(ch);
                        session(ch, protocol, admission, icids.getAndIncrement(), maxLine, config.bareNewline(), config.idleTimeout());
                    }
                });
        Channel server = b.bind(host(l), port(l)).syncUninterruptibly().channel();
        Bound result = new Bound(server, admission);
        ListenerMetrics.listenerBound(l.getName());
        LOG.infof("listener %s: SMTP on %s (host name %s, certificate slot %s)", l.getName(), result.address(), l.getHostname(),
                l.getCertificateSlot());
        return result;
    }

    /** A new connection's pipeline: idle timer, framer, session. */
    static void session(SocketChannel ch, SmtpProtocol protocol, Admission admission, long icid, int maxLine,
            ListenerConfig.BareNewline bareNewline, java.time.Duration idle) {
        SmtpSession session = new SmtpSession(protocol, admission.limits, admission, icid);
        ch.pipeline().addLast("idle", new IdleStateHandler(idle.toMillis(), 0, 0, TimeUnit.MILLISECONDS));
        ch.pipeline().addLast("smtp-framer", new SmtpFramer(maxLine, bareNewline, session));
        ch.pipeline().addLast("smtp", session);
    }

    private String host(Listener l) {
        return config.bindAddress().orElse(l.getBindAddress().isEmpty() ? "0.0.0.0" : l.getBindAddress());
    }

    private int port(Listener l) {
        return l.getPort() + config.portOffset();
    }
}
