package io.tlsgate.listener.smtp;

import io.grpc.Status;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.tlsgate.core.tls.TlsOutcome;
import io.tlsgate.listener.ListenerConfig;
import io.tlsgate.listener.upstream.CertClient;
import io.tlsgate.listener.upstream.ClientCertificateTrust;
import io.tlsgate.listener.upstream.DeliveryClient;
import io.tlsgate.platform.dns.DnsResolver;
import io.tlsgate.platform.dns.HostsFile;
import io.tlsgate.platform.dns.ReverseDns;
import io.tlsgate.platform.tls.TlsEngine;
import io.tlsgate.proto.delivery.v1.Envelope;
import io.tlsgate.proto.policy.v1.Behaviour;
import io.tlsgate.proto.policy.v1.InboundPolicy;
import io.tlsgate.proto.policy.v1.InboundTls;
import io.tlsgate.proto.policy.v1.Listener;
import io.tlsgate.proto.policy.v1.MailFlowPolicy;
import io.tlsgate.testkit.SmtpDialogue;
import io.tlsgate.testkit.TestDnsServer;
import io.tlsgate.testkit.TestPki;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The listener's SMTP sessions on a real socket on loopback, as {@link SmtpServers} builds them
 * (idle timer, framer, session, the same handlers), with what lies outside the listener played
 * by real servers and tables: reverse DNS from a {@link TestDnsServer}, the host access table
 * as a map from client address to mail flow policy, the recipient access table as a set of
 * domains, a certificate made by {@link TestPki} on the chosen TLS engine. delivery-service is
 * away (DATA is answered 451), so no message is ever queued here: the cluster tests in
 * devstack carry messages end to end.
 */
final class SmtpTestServer implements AutoCloseable {

    static final String HOSTNAME = "mx.listener.test";

    /** A mail flow policy for the host access table. */
    static InboundPolicy policy(String group, Behaviour behaviour, InboundTls tls, String... mandatorySenders) {
        return InboundPolicy.newBuilder().setListener("test").setSenderGroup(group).setMatchedBy("127.0.0.0/8")
                .setPolicy(MailFlowPolicy.newBuilder().setName(group.toLowerCase()).setBehaviour(behaviour).setTls(tls)
                        .addAllTlsMandatorySenders(List.of(mandatorySenders)).setMaxRecipientsPerMessage(3)
                        .setMaxMessagesPerConnection(10))
                .build();
    }

    final TestDnsServer dns;
    final Map<String, InboundPolicy> hat = new ConcurrentHashMap<>();
    final Set<String> rat = ConcurrentHashMap.newKeySet();
    final List<TlsOutcome> outcomes = new CopyOnWriteArrayList<>();
    final ClientCertificateTrust trust = new ClientCertificateTrust();
    final TestPki.Issued serverCert;
    private final NioEventLoopGroup loop = new NioEventLoopGroup(1);
    private final Channel server;
    private final DnsResolver resolver;
    private volatile CertClient.ServerTls tls;

    SmtpTestServer(TlsEngine engine, int maxErrors) throws Exception {
        this(engine, maxErrors, io.tlsgate.platform.bounce.BounceVerification.of(List.of(), 7, false));
    }

    /** With bounce verification as given (the same keys tag in delivery-service). */
    SmtpTestServer(TlsEngine engine, int maxErrors, io.tlsgate.platform.bounce.BounceVerification bounce) throws Exception {
        dns = new TestDnsServer();
        resolver = new DnsResolver(new DnsResolver.Settings(DnsResolver.Settings.of(java.util.Optional.of(dns.address())).servers(),
                Duration.ofMillis(500), 2, 100, Duration.ofSeconds(1), HostsFile.NONE));
        TestPki.Issued ca = TestPki.selfSignedCa("listener test CA", Duration.ofDays(1));
        var keys = TestPki.ecKeys();
        serverCert = new TestPki.Issued(keys, TestPki.issue(ca, keys.getPublic(), TestPki.Spec.server(HOSTNAME, HOSTNAME)));
        tls = CertClient.ServerTls.of(TestPki.keyManagers(keys, serverCert.certificate(), ca.certificate()), trust,
                engine == TlsEngine.OPENSSL, serverCert.certificatePem(), false, 1);
        ReverseDns reverse = new ReverseDns(resolver, Duration.ofSeconds(2));
        SessionSettings settings = new SessionSettings(maxErrors, Duration.ofMinutes(1), Duration.ofSeconds(5), Duration.ofSeconds(5),
                List.of("TLSv1.3", "TLSv1.2"), List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"));
        SmtpProtocol protocol = SmtpProtocol.of(settings, new TableUpstream(reverse), bounce);
        Listener listener = Listener.newBuilder().setName("test").setHostname(HOSTNAME).setMaxConcurrentConnections(50)
                .setMaxConnectionsPerClient(10).setMaxMessageSizeBytes(10_000).setCertificateSlot("listener:test").build();
        SmtpServers.Admission admission = new SmtpServers.Admission(listener);
        java.util.concurrent.atomic.AtomicLong icids = new java.util.concurrent.atomic.AtomicLong(1000);
        server = new ServerBootstrap().group(loop).channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        SmtpServers.session(ch, protocol, admission, icids.getAndIncrement(), 1024, ListenerConfig.BareNewline.REJECT,
                                Duration.ofMinutes(1));
                    }
                }).bind("127.0.0.1", 0).syncUninterruptibly().channel();
    }

    /** No certificate for the listener's slot (cert-service has not answered yet). */
    void noCertificate() {
        tls = null;
    }

    /** A client connecting from {@code from} (a 127.0.0.0/8 address: the HAT entry it picks). */
    SmtpDialogue connect(String from) throws Exception {
        return SmtpDialogue.connect(from, "127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort());
    }

    /** The outcome event's fields (as the JSON carries them) of a connection, once it ended. */
    Map<String, Object> outcome(SmtpDialogue client) throws InterruptedException {
        int port = client.localAddress().getPort();
        for (int i = 0; i < 100; i++) {
            for (TlsOutcome o : outcomes) {
                if (o.connection().peerPort() == port) {
                    return o.fields();
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no outcome event for the connection from port " + port + "; seen " + outcomes);
    }

    @Override
    public void close() throws Exception {
        server.close().syncUninterruptibly();
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        dns.close();
    }

    private final class TableUpstream implements Upstream {
        private final ReverseDns reverse;

        TableUpstream(ReverseDns reverse) {
            this.reverse = reverse;
        }

        @Override
        public CompletionStage<ReverseDns.Result> reverseDns(InetAddress client) {
            return reverse.lookup(client);
        }

        @Override
        public CompletionStage<InboundPolicy> inbound(String listener, String ip, String verifiedHost) {
            InboundPolicy p = hat.get(ip);
            return p != null ? CompletableFuture.completedFuture(p)
                    : CompletableFuture.failedFuture(Status.UNAVAILABLE.withDescription("policy-service away").asRuntimeException());
        }

        @Override
        public CompletionStage<Boolean> recipientAccepted(String domain) {
            if (domain.startsWith("fail.")) {
                return CompletableFuture.failedFuture(Status.DEADLINE_EXCEEDED.withDescription("no answer").asRuntimeException());
            }
            return CompletableFuture.completedFuture(rat.contains(domain));
        }

        @Override
        public CertClient.ServerTls tls(String slot) {
            return tls;
        }

        @Override
        public CompletionStage<Void> queueReady() {
            return CompletableFuture.failedFuture(Status.UNAVAILABLE.withDescription("delivery-service away").asRuntimeException());
        }

        @Override
        public DeliveryClient.Call enqueue(Envelope envelope) {
            throw new AssertionError("nothing is enqueued when delivery-service is away");
        }

        @Override
        public void publish(TlsOutcome outcome) {
            outcomes.add(outcome);
        }
    }
}
