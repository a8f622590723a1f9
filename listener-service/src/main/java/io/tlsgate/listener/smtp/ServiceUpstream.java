package io.tlsgate.listener.smtp;

import io.tlsgate.platform.events.Outbox;
import io.tlsgate.core.tls.TlsOutcome;
import io.tlsgate.listener.upstream.CertClient;
import io.tlsgate.listener.upstream.DeliveryClient;
import io.tlsgate.listener.upstream.PolicyClient;
import io.tlsgate.platform.dns.ReverseDns;
import io.tlsgate.proto.delivery.v1.Envelope;
import io.tlsgate.proto.policy.v1.InboundPolicy;
import io.tlsgate.proto.policy.v1.RecipientAccess;
import java.net.InetAddress;
import java.util.concurrent.CompletionStage;

/** The sessions' {@link Upstream} in service: the DNS layer and the gRPC clients of policy-, cert- and delivery-service. */
record ServiceUpstream(ReverseDns dns, PolicyClient policy, CertClient certs, DeliveryClient delivery, Outbox events)
        implements Upstream {

    @Override
    public CompletionStage<ReverseDns.Result> reverseDns(InetAddress client) {
        return dns.lookup(client);
    }

    @Override
    public CompletionStage<InboundPolicy> inbound(String listener, String ip, String verifiedHost) {
        return policy.inbound(listener, ip, verifiedHost);
    }

    @Override
    public CompletionStage<Boolean> recipientAccepted(String domain) {
        return policy.recipientAccess(domain).thenApply(RecipientAccess::getAccepted);
    }

    @Override
    public CertClient.ServerTls tls(String slot) {
        return certs.tls(slot);
    }

    @Override
    public CompletionStage<Void> queueReady() {
        return delivery.ready();
    }

    @Override
    public DeliveryClient.Call enqueue(Envelope envelope) {
        return delivery.enqueue(envelope);
    }

    @Override
    public void publish(TlsOutcome outcome) {
        events.later(events.event(outcome));
    }
}
