package io.tlsgate.policy.settings;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.quarkus.runtime.ShutdownEvent;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.grpc.InternalChannels;
import io.tlsgate.platform.identity.InternalTlsConfig;
import io.tlsgate.platform.identity.ServiceIdentity;
import io.tlsgate.proto.cert.v1.CertServiceGrpc;
import io.tlsgate.proto.cert.v1.GetBundleRequest;
import io.tlsgate.proto.cert.v1.SlotCertificate;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * The warnings a change that turns outbound TLS on carries (docs/destination-controls.md): no
 * certificate assigned to the outbound slot (delivery would present none), or one that expires
 * within {@value #EXPIRY_WARNING_DAYS} days. The change is made either way; cert-service is
 * asked over gRPC ({@code DescribeSlot}, no key in the answer), and when it does not answer the
 * warning says so.
 */
@ApplicationScoped
public class OutboundCertificateCheck {

    public static final int EXPIRY_WARNING_DAYS = 30;

    private static final Logger LOG = Logger.getLogger(OutboundCertificateCheck.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(3);

    private final OutboundSettingsService settings;
    private final ManagedChannel channel;
    private final Clock clock;

    OutboundCertificateCheck(OutboundSettingsService settings, InternalChannels channels, InternalTlsConfig internal) {
        this.settings = settings;
        this.channel = channels.open(internal.certService(), ServiceIdentity.CERT);
        this.clock = Clock.systemUTC();
    }

    void stop(@Observes ShutdownEvent ignored) {
        channel.shutdownNow();
    }

    /**
     * The warnings for the entries {@code what} names, whose effective modes are {@code modes};
     * none when every mode is {@code NONE}. Each warning is also logged.
     */
    public List<String> warnings(String what, Collection<OutboundTlsMode> modes) {
        if (modes.stream().allMatch(m -> m == null || m == OutboundTlsMode.NONE)) {
            return List.of();
        }
        List<String> out = warnings(settings.get().certificateSlot());
        out.forEach(w -> LOG.warnf("%s: TLS is enabled; %s", what, w));
        return out;
    }

    private List<String> warnings(String slot) {
        SlotCertificate s;
        try {
            s = CertServiceGrpc.newBlockingStub(channel).withDeadlineAfter(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    .describeSlot(GetBundleRequest.newBuilder().setSlot(slot).build());
        } catch (StatusRuntimeException e) {
            return List.of("could not check the outbound certificate (slot " + slot + "): cert-service answered "
                    + e.getStatus().getCode() + (e.getStatus().getDescription() == null ? ""
                            : " (" + e.getStatus().getDescription() + ")"));
        }
        List<String> out = new ArrayList<>();
        if (!s.getAssigned() || s.getDemo()) {
            out.add("no outbound certificate is assigned (slot " + slot + "): delivery presents no client certificate");
            return out;
        }
        Instant notAfter = Instant.ofEpochSecond(s.getNotAfterEpochSeconds());
        Instant now = clock.instant();
        if (notAfter.isBefore(now)) {
            out.add("the outbound certificate '" + s.getCertificate() + "' (slot " + slot + ") expired on "
                    + LocalDate.ofInstant(notAfter, ZoneOffset.UTC));
        } else if (notAfter.isBefore(now.plus(Duration.ofDays(EXPIRY_WARNING_DAYS)))) {
            out.add("the outbound certificate '" + s.getCertificate() + "' (slot " + slot + ") expires on "
                    + LocalDate.ofInstant(notAfter, ZoneOffset.UTC) + ", within " + EXPIRY_WARNING_DAYS + " days");
        }
        return out;
    }
}
