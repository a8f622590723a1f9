package io.tlsgate.policy.grpc;

import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.tlsgate.core.destination.DestinationField;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.core.destination.EffectivePolicy;
import io.tlsgate.core.dns.DomainName;
import io.tlsgate.core.inbound.InboundIndex;
import io.tlsgate.core.inbound.Listener;
import io.tlsgate.core.inbound.MailFlowPolicy;
import io.tlsgate.core.inbound.SenderAddress;
import io.smallrye.common.annotation.Blocking;
import io.tlsgate.policy.bounce.BounceProfile;
import io.tlsgate.policy.resolve.PolicyResolver;
import io.tlsgate.policy.settings.OutboundSettingsService;
import io.tlsgate.proto.policy.v1.GetOutboundSettingsRequest;
import io.tlsgate.proto.policy.v1.OutboundSettings;
import io.tlsgate.proto.policy.v1.TrustedCaMode;
import io.tlsgate.proto.policy.v1.Behaviour;
import io.tlsgate.proto.policy.v1.InboundPolicy;
import io.tlsgate.proto.policy.v1.InboundTls;
import io.tlsgate.proto.policy.v1.IpPreference;
import io.tlsgate.proto.policy.v1.IsAcceptedRecipientRequest;
import io.tlsgate.proto.policy.v1.ListListenersRequest;
import io.tlsgate.proto.policy.v1.ListenerList;
import io.tlsgate.proto.policy.v1.NextHop;
import io.tlsgate.proto.policy.v1.RecipientAccess;
import io.tlsgate.proto.policy.v1.ResolveInboundRequest;
import io.tlsgate.proto.policy.v1.ResolveRouteRequest;
import io.tlsgate.proto.policy.v1.Route;
import io.tlsgate.proto.policy.v1.LimitsApplyPer;
import io.tlsgate.proto.policy.v1.LimitsScope;
import io.tlsgate.proto.policy.v1.OutboundPolicy;
import io.tlsgate.proto.policy.v1.OutboundTlsMode;
import io.tlsgate.proto.policy.v1.PolicyChange;
import io.tlsgate.proto.policy.v1.PolicyService;
import io.tlsgate.proto.policy.v1.RecipientLimit;
import io.tlsgate.proto.policy.v1.ResolveOutboundRequest;
import io.tlsgate.proto.policy.v1.WatchChangesRequest;

/**
 * gRPC edge of policy-service: maps wire types to the domain and back, nothing more.
 * Every Resolve/Is/List call answers from the in-memory snapshots on the event loop (no I/O).
 */
@GrpcService
public class PolicyGrpcService implements PolicyService {

    private final PolicyResolver resolver;
    private final OutboundSettingsService settings;

    PolicyGrpcService(PolicyResolver resolver, OutboundSettingsService settings) {
        this.resolver = resolver;
        this.settings = settings;
    }

    /** Read from PostgreSQL in one snapshot with its version (rarely called: delivery caches it). */
    @Override
    @Blocking
    public Uni<OutboundSettings> getOutboundSettings(GetOutboundSettingsRequest request) {
        return Uni.createFrom().item(() -> {
            OutboundSettingsService.ForDelivery d = settings.forDelivery();
            OutboundSettings.Builder b = OutboundSettings.newBuilder()
                    .setAlertOnRequiredTlsFailure(d.settings().alertOnRequiredTlsFailure())
                    .setCertificateSlot(d.settings().certificateSlot())
                    .setTrustedCaMode(TrustedCaMode.valueOf(d.settings().trustedCaMode().name()))
                    .setVersion(d.version());
            for (BounceProfile p : d.bounceProfiles()) {
                b.addBounceProfiles(io.tlsgate.proto.policy.v1.BounceProfile.newBuilder()
                        .setName(p.name())
                        .setMaxRetries(p.maxRetries())
                        .setMaxTimeInQueueSeconds(p.maxTimeInQueueSeconds())
                        .setInitialRetrySeconds(p.initialRetrySeconds())
                        .setMaxRetrySeconds(p.maxRetrySeconds())
                        .setSendHardBounces(p.sendHardBounces())
                        .setSendDelayWarnings(p.sendDelayWarnings())
                        .setDelayWarningIntervalSeconds(p.delayWarningIntervalSeconds())
                        .setMaxDelayWarnings(p.maxDelayWarnings()));
            }
            return b.build();
        });
    }

    @Override
    public Uni<OutboundPolicy> resolveOutbound(ResolveOutboundRequest request) {
        String domain = null;
        byte[] address = null;
        try {
            if (!request.getDomain().isBlank()) {
                domain = DomainName.normalise(request.getDomain());
            }
        } catch (IllegalArgumentException e) {
            return invalid("domain: " + e.getMessage());
        }
        if (!request.getNextHopIp().isBlank()) {
            address = PolicyResolver.address(request.getNextHopIp());
            if (address == null) {
                return invalid("next_hop_ip: '" + request.getNextHopIp() + "' is not an IP address");
            }
        }
        if (domain == null && address == null) {
            return invalid("domain: give a domain, a next_hop_ip, or both");
        }
        long version = resolver.version();
        return Uni.createFrom().item(toProto(resolver.resolve(domain, address), version));
    }

    @Override
    public Multi<PolicyChange> watchChanges(WatchChangesRequest request) {
        return Multi.createBy().concatenating().streams(
                        Multi.createFrom().item(resolver::version),
                        resolver.changes())
                .map(v -> PolicyChange.newBuilder().setVersion(v).build());
    }

    @Override
    public Uni<InboundPolicy> resolveInbound(ResolveInboundRequest request) {
        byte[] address = PolicyResolver.address(request.getClientIp());
        if (address == null) {
            return invalid("client_ip: '" + request.getClientIp() + "' is not an IP address");
        }
        String host = request.getVerifiedRdnsHost().isBlank() ? null : request.getVerifiedRdnsHost();
        long version = resolver.version();
        return resolver.inbound().resolve(request.getListener(), address, host, host != null)
                .map(d -> Uni.createFrom().item(InboundPolicy.newBuilder()
                        .setListener(d.listener())
                        .setSenderGroup(d.senderGroup())
                        .setMatchedBy(d.matchedBy())
                        .setPosition(d.position())
                        .setPolicy(toProto(d.policy()))
                        .setVersion(version)
                        .build()))
                .orElseGet(() -> Uni.createFrom().failure(Status.NOT_FOUND
                        .withDescription("no listener named '" + request.getListener() + "'").asRuntimeException()));
    }

    @Override
    public Uni<RecipientAccess> isAcceptedRecipient(IsAcceptedRecipientRequest request) {
        String domain = normalised(request.getDomain());
        if (domain == null) {
            return invalid("domain: '" + request.getDomain() + "' is not a domain name");
        }
        long version = resolver.version();
        InboundIndex.RecipientDecision d = resolver.inbound().acceptsRecipient(domain);
        RecipientAccess.Builder b = RecipientAccess.newBuilder().setAccepted(d.accepted()).setVersion(version);
        if (d.matchedKey() != null) {
            b.setMatchedKey(d.matchedKey());
        }
        return Uni.createFrom().item(b.build());
    }

    @Override
    public Uni<Route> resolveRoute(ResolveRouteRequest request) {
        String domain = normalised(request.getDomain());
        if (domain == null) {
            return invalid("domain: '" + request.getDomain() + "' is not a domain name");
        }
        long version = resolver.version();
        InboundIndex.RouteDecision d = resolver.inbound().route(domain);
        Route.Builder b = Route.newBuilder().setUseDns(d.useDns()).setVersion(version);
        if (d.matchedKey() != null) {
            b.setMatchedKey(d.matchedKey());
        }
        d.hops().forEach(h -> b.addHops(NextHop.newBuilder().setHost(h.host()).setPort(h.port())));
        return Uni.createFrom().item(b.build());
    }

    @Override
    public Uni<ListenerList> listListeners(ListListenersRequest request) {
        long version = resolver.version();
        ListenerList.Builder b = ListenerList.newBuilder().setVersion(version);
        for (Listener l : resolver.inbound().listeners()) {
            b.addListeners(io.tlsgate.proto.policy.v1.Listener.newBuilder()
                    .setName(l.name())
                    .setBindAddress(l.bindAddress())
                    .setPort(l.port())
                    .setHostname(l.hostname())
                    .setMaxConcurrentConnections(l.maxConcurrentConnections())
                    .setMaxConnectionsPerClient(l.maxConnectionsPerClient())
                    .setMaxMessageSizeBytes(l.maxMessageSizeBytes())
                    .setCertificateSlot(l.certificateSlot()));
        }
        return Uni.createFrom().item(b.build());
    }

    static io.tlsgate.proto.policy.v1.MailFlowPolicy toProto(MailFlowPolicy p) {
        return io.tlsgate.proto.policy.v1.MailFlowPolicy.newBuilder()
                .setName(p.name())
                .setBehaviour(Behaviour.valueOf(p.behaviour().name()))
                .setTls(switch (p.tls()) {
                    case OFF -> InboundTls.OFF;
                    case PREFERRED -> InboundTls.TLS_PREFERRED;
                    case REQUIRED -> InboundTls.TLS_REQUIRED;
                    case PREFERRED_VERIFY -> InboundTls.TLS_PREFERRED_VERIFY;
                    case REQUIRED_VERIFY -> InboundTls.TLS_REQUIRED_VERIFY;
                })
                .addAllTlsMandatorySenders(p.tlsMandatorySenders().stream().map(SenderAddress::text).toList())
                .setMaxRecipientsPerMessage(p.maxRecipientsPerMessage())
                .setMaxMessagesPerConnection(p.maxMessagesPerConnection())
                .build();
    }

    /** A normalised domain name; null when it is not one. */
    private static String normalised(String domain) {
        try {
            return DomainName.normalise(domain);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    static OutboundPolicy toProto(EffectivePolicy p, long version) {
        DestinationSettings v = p.values();
        OutboundPolicy.Builder b = OutboundPolicy.newBuilder()
                .setMatchedKey(p.matchedKey())
                .setTls(OutboundTlsMode.valueOf(v.tls().name()))
                .setMaxConcurrentConnections(v.maxConcurrentConnections())
                .setMaxMessagesPerConnection(v.maxMessagesPerConnection())
                .setLimitsApplyPer(LimitsApplyPer.valueOf(v.limitsApplyPer().name()))
                .setLimitsScope(LimitsScope.valueOf(v.limitsScope().name()))
                .setIpPreference(IpPreference.valueOf(v.ipPreference().name()))
                .setBounceVerification(v.bounceVerification())
                .setIgnoreMtaSts(v.ignoreMtaSts())
                .setIgnoreDane(v.ignoreDane())
                .setBounceProfile(v.bounceProfile())
                .setVersion(version);
        if (v.recipientLimit().limited()) {
            b.setRecipientLimit(RecipientLimit.newBuilder()
                    .setRecipients(v.recipientLimit().recipients())
                    .setPerMinutes(v.recipientLimit().perMinutes()));
        }
        for (DestinationField f : DestinationField.values()) {
            b.putSources(f.jsonName(), p.sourceOf(f));
        }
        return b.build();
    }

    private static <T> Uni<T> invalid(String message) {
        return Uni.createFrom().failure(Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException());
    }
}
