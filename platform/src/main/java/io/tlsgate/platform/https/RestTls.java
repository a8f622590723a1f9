package io.tlsgate.platform.https;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.Startup;
import io.quarkus.tls.TlsConfigurationRegistry;
import io.tlsgate.platform.grpc.InternalChannels;
import io.tlsgate.platform.identity.CertWire;
import io.tlsgate.platform.identity.InternalTlsConfig;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.platform.tls.KeyMaterial;
import io.tlsgate.platform.tls.RotatingKeyManager;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The REST port's certificate: cert-service's {@code https} slot (the demo certificate until
 * one is assigned), watched over internal gRPC, so that an assignment or renewal reaches every
 * service within seconds and is served from the next TLS handshake on, without a restart.
 * Registers the TLS configuration {@value #NAME} that Quarkus' HTTP server is pointed at
 * ({@code quarkus.http.tls-configuration-name}); it does nothing when the server is pointed at
 * none (plain HTTP, as in the modules' own tests). A service that gets no certificate within
 * {@code tlsgate.https.start-timeout} starts with a temporary self-signed one (logged) and
 * switches as soon as cert-service answers.
 *
 * <p>Security-sensitive: holds the REST private key; it is never logged.
 */
@ApplicationScoped
@Startup
public class RestTls {

    /** The TLS configuration name the HTTP server uses. */
    public static final String NAME = "tlsgate-https";

    private static final Logger LOG = Logger.getLogger(RestTls.class);

    private final HttpsConfig config;
    private final RotatingKeyManager.Holder key = new RotatingKeyManager.Holder();
    private final ScheduledExecutorService retry;
    private final ManagedChannel channel;
    private volatile boolean stopping;

    RestTls(@ConfigProperty(name = "quarkus.http.tls-configuration-name") Optional<String> serverTls,
            @ConfigProperty(name = "quarkus.application.name") String serviceName, HttpsConfig config,
            InternalTlsConfig internal, InternalChannels channels, TlsConfigurationRegistry registry) {
        this.config = config;
        if (serverTls.isEmpty() || !NAME.equals(serverTls.get())) {
            this.retry = null;
            this.channel = null;
            LOG.info("REST over plain HTTP (quarkus.http.tls-configuration-name is not " + NAME + ")");
            return;
        }
        this.retry = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tlsgate-rest-tls");
            t.setDaemon(true);
            return t;
        });
        this.channel = channels.open(internal.certService(), ServiceIdentity.CERT);
        CountDownLatch first = new CountDownLatch(1);
        watch(first);
        try {
            if (!first.await(config.startTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                // Health checks and the API must not wait on cert-service: serve a key of our own,
                // which no client trusts, until the slot's certificate arrives.
                if (key.useIfEmpty(TemporaryCertificate.make(serviceName))) {
                    LOG.warnf("no REST certificate (slot %s) from cert-service at %s within %s: serving a temporary "
                            + "self-signed certificate until it answers", config.slot(), internal.certService(),
                            config.startTimeout());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the REST certificate", e);
        }
        registry.register(NAME, new RestTlsConfiguration(key.manager(), config.protocols(), config.ciphers()));
    }

    void stop(@Observes ShutdownEvent e) {
        stopping = true;
        if (channel != null) {
            channel.shutdownNow();
            retry.shutdownNow();
        }
    }

    /** The certificate served now (null before the first, or with plain HTTP). */
    public X509Certificate current() {
        RotatingKeyManager.Version v = key.current();
        return v == null ? null : v.chain()[0];
    }

    private void watch(CountDownLatch first) {
        ClientCalls.asyncServerStreamingCall(channel.newCall(CertWire.WATCH_BUNDLE, CallOptions.DEFAULT),
                new CertWire.BundleRequest(config.slot()), new StreamObserver<>() {
                    @Override
                    public void onNext(CertWire.Bundle b) {
                        try {
                            use(b);
                            first.countDown();
                        } catch (Exception e) {
                            LOG.warnf("the %s certificate %s from cert-service cannot be used; keeping the current one: %s",
                                    config.slot(), b.certificate(), e.getMessage());
                        } finally {
                            Arrays.fill(b.privateKeyPkcs8(), (byte) 0);
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        again(first, t.getMessage());
                    }

                    @Override
                    public void onCompleted() {
                        again(first, "the stream ended");
                    }
                });
    }

    private void again(CountDownLatch first, String why) {
        if (stopping) {
            return;
        }
        LOG.infof("watching the REST certificate at cert-service: %s; again in 2 s", why);
        retry.schedule(() -> watch(first), 2, TimeUnit.SECONDS);
    }

    private void use(CertWire.Bundle b) throws Exception {
        List<X509Certificate> chain = KeyMaterial.certificates(b.chain());
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("no certificate in the bundle");
        }
        PrivateKey pk = KeyMaterial.privateKey(b.keyAlgorithm(), b.privateKeyPkcs8());
        key.use(new RotatingKeyManager.Version("rest-" + b.revision() + "-" + chain.get(0).getSerialNumber().toString(16), pk,
                chain.toArray(new X509Certificate[0])));
        LOG.infof("REST certificate: %s (%s%s), valid until %s", chain.get(0).getSubjectX500Principal(), b.certificate(),
                b.demo() ? ", the demo certificate: assign one to the https slot" : "", chain.get(0).getNotAfter());
    }
}
