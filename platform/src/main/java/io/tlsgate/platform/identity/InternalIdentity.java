package io.tlsgate.platform.identity;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.Startup;
import io.tlsgate.platform.tls.Pem;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * This service's identity on internal gRPC (docs/security.md): its key and certificate, and
 * the internal CA it trusts. The service has one before it serves or calls anything: with
 * source {@code cert-service} it enrols at cert-service (retrying until
 * {@code enroll-timeout}; cert-service itself asks its own CA) and renews after two thirds of
 * the lifetime; with source {@code files} it reads the PEM files and re-reads them when they
 * change. The key and trust managers of {@link IdentityState} follow every renewal from the
 * next handshake on, without a restart.
 *
 * <p>Security-sensitive: holds the private key; it is never logged.
 */
@ApplicationScoped
@Startup
public class InternalIdentity {

    private static final Logger LOG = Logger.getLogger(InternalIdentity.class);
    private static final Duration RETRY = Duration.ofSeconds(2);
    private static final Duration MIN_RENEWAL = Duration.ofSeconds(10);

    private final String service;
    private final InternalTlsConfig config;
    private final IdentityIssuer localIssuer;
    private final ScheduledExecutorService renewer;
    private final IdentityState state;
    private volatile long filesStamp;

    @jakarta.inject.Inject
    InternalIdentity(@ConfigProperty(name = "quarkus.application.name") String service, InternalTlsConfig config,
            Instance<IdentityIssuer> issuers, IdentityState state) {
        this(service, config, issuers.isResolvable() ? issuers.get() : null, state);
    }

    /** {@code localIssuer}: the internal CA when this service runs it (cert-service), else null. */
    InternalIdentity(String service, InternalTlsConfig config, IdentityIssuer localIssuer, IdentityState state) {
        this.service = ServiceIdentity.known(service);
        this.config = config;
        this.localIssuer = localIssuer;
        this.state = state;
        this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tlsgate-identity");
            t.setDaemon(true);
            return t;
        });
        if (config.source() == InternalTlsConfig.Source.FILES) {
            state.use(readFiles());
            LOG.infof("internal TLS identity of %s read from %s (valid until %s)", service, config.certFile().orElseThrow(),
                    state.current().notAfter());
            long every = config.reloadInterval().toMillis();
            renewer.scheduleWithFixedDelay(this::reloadFiles, every, every, TimeUnit.MILLISECONDS);
        } else {
            state.use(firstIdentity());
            LOG.infof("internal TLS identity of %s issued by the internal CA (valid until %s)", service, state.current().notAfter());
            scheduleRenewal(state.current());
        }
    }

    void stop(@Observes ShutdownEvent e) {
        renewer.shutdownNow();
    }

    /** This service's name ({@code quarkus.application.name}). */
    public String service() {
        return service;
    }

    /** The identity now. */
    public IdentityMaterial current() {
        return state.current();
    }

    private IdentityMaterial firstIdentity() {
        long deadline = System.nanoTime() + config.enrollTimeout().toNanos();
        while (true) {
            try {
                return obtain();
            } catch (Exception e) {
                if (System.nanoTime() > deadline || localIssuer != null) {
                    throw new IllegalStateException("no internal TLS identity for " + service + ": " + e.getMessage(), e);
                }
                LOG.infof("waiting for cert-service at %s to issue this service's identity: %s", config.certService(),
                        e.getMessage());
                try {
                    Thread.sleep(RETRY.toMillis());
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while enrolling", ie);
                }
            }
        }
    }

    private IdentityMaterial obtain() throws GeneralSecurityException {
        if (localIssuer != null) {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair keys = g.generateKeyPair();
            return IdentityMaterial.of(service, keys.getPrivate(), localIssuer.issue(service, keys.getPublic()),
                    localIssuer.anchors());
        }
        String token = config.enrollmentTokens().get(service);
        if (token == null) {
            throw new IllegalStateException("tlsgate.internal-tls.enrollment-tokens." + service
                    + " is not set (or set tlsgate.internal-tls.source=files)");
        }
        return Enrollment.enroll(config.certService(), service, token);
    }

    /**
     * After two thirds of what is left of {@code m}'s validity now, just after it was obtained
     * (not of notBefore..notAfter: the CA backdates notBefore a few minutes for clock skew).
     */
    private void scheduleRenewal(IdentityMaterial m) {
        Instant now = Instant.now();
        Duration left = Duration.between(now, m.notAfter());
        long delay = Math.max(MIN_RENEWAL.toMillis(), left.multipliedBy(2).dividedBy(3).toMillis());
        renewer.schedule(this::renew, delay, TimeUnit.MILLISECONDS);
    }

    private void renew() {
        try {
            IdentityMaterial next = obtain();
            state.use(next);
            LOG.infof("internal TLS identity of %s renewed (valid until %s)", service, next.notAfter());
            scheduleRenewal(next);
        } catch (Exception e) {
            LOG.warnf("could not renew the internal TLS identity of %s (valid until %s); retrying in 30 s: %s", service,
                    state.current().notAfter(), e.getMessage());
            renewer.schedule(this::renew, 30, TimeUnit.SECONDS);
        }
    }

    private void reloadFiles() {
        try {
            if (stamp() == filesStamp) {
                return;
            }
            IdentityMaterial next = readFiles();
            state.use(next);
            LOG.infof("internal TLS identity of %s re-read from its files (valid until %s)", service, next.notAfter());
        } catch (Exception e) {
            LOG.warnf("internal TLS identity files of %s changed but cannot be used; keeping the previous identity: %s", service,
                    e.getMessage());
        }
    }

    private long stamp() throws IOException {
        long s = 0;
        for (Path p : files()) {
            s = s * 31 + Files.getLastModifiedTime(p).toMillis() + Files.size(p);
        }
        return s;
    }

    private List<Path> files() {
        String missing = "tlsgate.internal-tls.%s is required with tlsgate.internal-tls.source=files";
        return List.of(config.certFile().orElseThrow(() -> new IllegalStateException(missing.formatted("cert-file"))),
                config.keyFile().orElseThrow(() -> new IllegalStateException(missing.formatted("key-file"))),
                config.caFile().orElseThrow(() -> new IllegalStateException(missing.formatted("ca-file"))));
    }

    private IdentityMaterial readFiles() {
        List<Path> f = files();
        try {
            long stamp = stamp();
            IdentityMaterial m = IdentityMaterial.of(service, privateKey(Files.readString(f.get(1))),
                    Pem.certificates(Files.readString(f.get(0))), Pem.certificates(Files.readString(f.get(2))));
            filesStamp = stamp;
            return m;
        } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
            throw new IllegalStateException("cannot use the internal TLS identity files " + f + ": " + e.getMessage(), e);
        }
    }

    /** A PKCS#8 private key ({@code BEGIN PRIVATE KEY}), EC or RSA. */
    static PrivateKey privateKey(String pem) throws GeneralSecurityException {
        String begin = "-----BEGIN " + "PRIVATE KEY-----"; // split: no scanner takes this file for a key
        int a = pem.indexOf(begin);
        int b = pem.indexOf("-----END " + "PRIVATE KEY-----");
        if (a < 0 || b < a) {
            throw new GeneralSecurityException("the key file holds no PKCS#8 key (BEGIN PRIVATE KEY); convert it with "
                    + "openssl pkcs8 -topk8 -nocrypt, or set cert-manager's privateKey.encoding to PKCS8");
        }
        byte[] der = Base64.getMimeDecoder().decode(pem.substring(a + begin.length(), b));
        try {
            for (String alg : List.of("EC", "RSA")) {
                try {
                    return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
                } catch (java.security.spec.InvalidKeySpecException e) {
                    // try the next algorithm
                }
            }
            throw new GeneralSecurityException("the key file's key is neither EC nor RSA");
        } finally {
            java.util.Arrays.fill(der, (byte) 0);
        }
    }
}
