package io.tlsgate.listener.upstream;

import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.quarkus.runtime.ShutdownEvent;
import io.tlsgate.listener.ListenerConfig;
import io.tlsgate.platform.grpc.InternalChannels;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.platform.tls.KeyMaterial;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.CertificateBundle;
import io.tlsgate.proto.cert.v1.GetBundleRequest;
import io.tlsgate.proto.cert.v1.GetTrustRequest;
import io.tlsgate.proto.cert.v1.TrustBundle;
import io.tlsgate.proto.cert.v1.TrustedCa;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.jboss.logging.Logger;

/**
 * The listeners' certificates: one {@code WatchBundle} stream per slot ({@code listener:<name>})
 * from cert-service, each new bundle turned into a fresh {@link SSLContext} that STARTTLS uses
 * from then on. Sessions already encrypted keep theirs (a rotation drops nothing); a broken
 * stream keeps the last good certificate and reconnects. The operator's CAs (for client
 * certificates) are fetched again with every bundle and every minute. Keys stay in memory.
 */
@ApplicationScoped
public class CertClient {

    /**
     * What STARTTLS on a listener uses: the context (BoringSSL's when the listener runs on it,
     * else the JDK's), and which certificate it serves.
     */
    public record ServerTls(SSLContext context, io.netty.handler.ssl.SslContext openSsl, String certificate, boolean demo,
            long revision) {

        /**
         * The contexts of a key and chain: the JDK's always, BoringSSL's too when {@code openSsl}
         * (protocols, suites and client-certificate requests are set per engine, by STARTTLS).
         */
        public static ServerTls of(KeyManagerFactory keys, ClientCertificateTrust trust, boolean openSsl, String certificate,
                boolean demo, long revision) {
            try {
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(keys.getKeyManagers(), new TrustManager[] {trust}, null);
                io.netty.handler.ssl.SslContext boring = openSsl ? io.netty.handler.ssl.SslContextBuilder.forServer(keys)
                        .sslProvider(io.netty.handler.ssl.SslProvider.OPENSSL).trustManager(trust).build() : null;
                return new ServerTls(ctx, boring, certificate, demo, revision);
            } catch (java.security.GeneralSecurityException | javax.net.ssl.SSLException e) {
                throw new IllegalStateException(e.getClass().getSimpleName() + ": " + e.getMessage(), e);
            }
        }

        /** A server-side engine of this context. */
        public javax.net.ssl.SSLEngine engine(io.netty.buffer.ByteBufAllocator alloc) {
            return openSsl != null ? openSsl.newEngine(alloc) : context.createSSLEngine();
        }
    }

    private static final Logger LOG = Logger.getLogger(CertClient.class);

    private final ManagedChannel channel;
    private final ClientCertificateTrust trust = new ClientCertificateTrust();
    private final Map<String, ServerTls> current = new ConcurrentHashMap<>();
    private final Map<String, Boolean> followed = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;
    private volatile boolean running = true;
    /** STARTTLS on BoringSSL ({@code tlsgate.listener.tls-engine = openssl}, where it loads). */
    private final boolean openSslEngine;

    CertClient(ListenerConfig config, InternalChannels channels) {
        this.openSslEngine = config.tlsEngine().usable("tlsgate.listener.tls-engine") == io.tlsgate.platform.tls.TlsEngine.OPENSSL;
        this.channel = channels.open(config.certService(), ServiceIdentity.CERT);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cert-watch");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::refreshTrust, 0, 60, TimeUnit.SECONDS);
    }

    void stop(@Observes ShutdownEvent ignored) {
        running = false;
        timer.shutdownNow();
        channel.shutdownNow();
    }

    /** The TLS context of a slot now; null until cert-service has answered once. */
    public ServerTls tls(String slot) {
        return current.get(slot);
    }

    /** Starts following a slot (once). */
    public void follow(String slot) {
        if (followed.putIfAbsent(slot, Boolean.TRUE) == null) {
            watch(slot);
        }
    }

    public ClientCertificateTrust trust() {
        return trust;
    }

    private void watch(String slot) {
        if (!running) {
            return;
        }
        CertServiceGrpc.newStub(channel).watchBundle(GetBundleRequest.newBuilder().setSlot(slot).build(), new StreamObserver<>() {
            @Override
            public void onNext(CertificateBundle b) {
                try {
                    ServerTls tls = server(b);
                    ServerTls before = current.put(slot, tls);
                    if (before == null || before.revision() != tls.revision() || !before.certificate().equals(tls.certificate())) {
                        LOG.infof("slot %s: serving certificate %s%s (revision %d)", slot, tls.certificate(),
                                tls.demo() ? " (demo certificate, not verifiable)" : "", tls.revision());
                    }
                } catch (RuntimeException e) {
                    LOG.errorf("slot %s: the certificate from cert-service cannot be used (%s); keeping the previous one", slot,
                            e.getMessage());
                }
                refreshTrust();
            }

            @Override
            public void onError(Throwable t) {
                again(slot, t.getMessage());
            }

            @Override
            public void onCompleted() {
                again(slot, "stream ended");
            }
        });
    }

    private void again(String slot, String why) {
        if (running) {
            LOG.debugf("slot %s: certificate stream %s; reconnecting", slot, why);
            timer.schedule(() -> watch(slot), 2, TimeUnit.SECONDS);
        }
    }

    private void refreshTrust() {
        if (!running) {
            return;
        }
        CertServiceGrpc.newStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).getTrust(GetTrustRequest.getDefaultInstance(),
                new StreamObserver<>() {
                    @Override
                    public void onNext(TrustBundle bundle) {
                        List<X509Certificate> cas = new ArrayList<>();
                        for (TrustedCa ca : bundle.getCasList()) {
                            cas.addAll(KeyMaterial.pem(ca.getPem()));
                        }
                        trust.operatorCas(cas);
                    }

                    @Override
                    public void onError(Throwable t) {
                        LOG.debugf("trusted CAs not refreshed: %s", t.getMessage());
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
    }

    private ServerTls server(CertificateBundle b) {
        KeyManagerFactory kmf = KeyMaterial.keyManagers("server", b.getKeyAlgorithm(), b.getPrivateKeyPkcs8().toByteArray(),
                b.getChainList().stream().map(com.google.protobuf.ByteString::toByteArray).toList());
        return ServerTls.of(kmf, trust, openSslEngine, b.getCertificate(), b.getDemo(), b.getRevision());
    }
}
