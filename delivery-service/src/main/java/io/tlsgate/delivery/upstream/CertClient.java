package io.tlsgate.delivery.upstream;

import io.grpc.ManagedChannel;
import io.quarkus.runtime.ShutdownEvent;
import io.tlsgate.delivery.DeliveryConfig;
import io.tlsgate.platform.grpc.InternalChannels;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.platform.tls.KeyMaterial;
import io.tlsgate.platform.tls.PeerTrust;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.CertificateBundle;
import io.tlsgate.proto.cert.v1.GetBundleRequest;
import io.tlsgate.proto.cert.v1.GetTrustRequest;
import io.tlsgate.proto.cert.v1.TrustBundle;
import io.tlsgate.proto.cert.v1.TrustedCa;
import io.tlsgate.proto.policy.v1.TrustedCaMode;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;

/**
 * delivery-service's view of cert-service: the trust anchors the verify modes use (the
 * system bundle and/or the operator's CAs, per the trusted-CA mode) and the client
 * certificate of the outbound slot, fetched over gRPC with the service token and kept for
 * {@code tlsgate.delivery.cert-refresh} (a rotation applies to connections opened after
 * that). The private key lives only in memory, in the key manager; it is never logged.
 */
@ApplicationScoped
public class CertClient {

    /** What a TLS connection needs: the anchors and, when a certificate is assigned, the client key. */
    public record Material(PeerTrust trust, KeyManagerFactory clientKey, String clientCertificate) {}

    private static final List<X509Certificate> SYSTEM = KeyMaterial.systemAnchors();

    private final ManagedChannel channel;
    private final DeliveryConfig config;
    private volatile Cached cached;

    private record Cached(String slot, TrustedCaMode mode, long until, Material material) {}

    CertClient(DeliveryConfig config, InternalChannels channels) {
        this.config = config;
        this.channel = channels.open(config.certService(), ServiceIdentity.CERT);
    }

    void stop(@Observes ShutdownEvent ignored) {
        channel.shutdownNow();
    }

    /** The anchors for {@code mode} and the client key of {@code slot} (none when only the demo certificate is there). */
    public Material material(String slot, TrustedCaMode mode) {
        Cached c = cached;
        long now = System.nanoTime();
        if (c != null && c.slot().equals(slot) && c.mode() == mode && now - c.until() < 0) {
            return c.material();
        }
        var stub = CertServiceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(config.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS);
        List<X509Certificate> anchors = new ArrayList<>();
        if (mode != TrustedCaMode.CUSTOM_ONLY) {
            anchors.addAll(SYSTEM);
        }
        if (mode != TrustedCaMode.SYSTEM_ONLY) {
            TrustBundle trust = stub.getTrust(GetTrustRequest.getDefaultInstance());
            for (TrustedCa ca : trust.getCasList()) {
                anchors.addAll(KeyMaterial.pem(ca.getPem()));
            }
        }
        CertificateBundle bundle = stub.getBundle(GetBundleRequest.newBuilder().setSlot(slot).build());
        KeyManagerFactory key = bundle.getAssigned() && !bundle.getDemo() ? keyManager(bundle) : null;
        Material m = new Material(trust(anchors), key, key == null ? null : bundle.getCertificate());
        cached = new Cached(slot, mode, now + config.certRefresh().toNanos(), m);
        return m;
    }

    /**
     * The trust of {@code anchors}: the previous one while the anchors are the same (compiling
     * ~150 system anchors costs more than a handshake, and they rarely change between refreshes).
     */
    private PeerTrust trust(List<X509Certificate> anchors) {
        Cached c = cached;
        if (c != null && c.material().trust().anchors().equals(anchors)) {
            return c.material().trust();
        }
        return PeerTrust.of(List.copyOf(anchors));
    }

    private static KeyManagerFactory keyManager(CertificateBundle b) {
        try {
            return KeyMaterial.keyManagers("outbound", b.getKeyAlgorithm(), b.getPrivateKeyPkcs8().toByteArray(),
                    b.getChainList().stream().map(com.google.protobuf.ByteString::toByteArray).toList());
        } catch (IllegalStateException e) {
            throw new IllegalStateException("the certificate of slot " + b.getSlot() + " cannot be used: " + e.getMessage(), e);
        }
    }
}
