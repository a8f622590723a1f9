package io.tlsgate.listener.smtp;

import io.tlsgate.core.tls.TlsOutcome;
import io.tlsgate.listener.upstream.CertClient;
import io.tlsgate.listener.upstream.DeliveryClient;
import io.tlsgate.platform.dns.ReverseDns;
import io.tlsgate.proto.delivery.v1.Envelope;
import io.tlsgate.proto.policy.v1.InboundPolicy;
import java.net.InetAddress;
import java.util.concurrent.CompletionStage;

/**
 * What a session asks of DNS and of the other services: the listener's gRPC clients in service
 * ({@link SmtpServers}); in the listener's own dialogue tests, a DNS server and tables on loopback.
 */
interface Upstream {

    /** PTR and forward confirmation of a client (never fails: unknown at worst). */
    CompletionStage<ReverseDns.Result> reverseDns(InetAddress client);

    /** The host access table's answer for a client: sender group and mail flow policy. */
    CompletionStage<InboundPolicy> inbound(String listener, String ip, String verifiedHost);

    /** Whether the recipient access table accepts mail for a domain. */
    CompletionStage<Boolean> recipientAccepted(String domain);

    /** The TLS context of a certificate slot now; null until cert-service has answered. */
    CertClient.ServerTls tls(String slot);

    /** Completes when delivery-service can take a message; fails when it cannot (451). */
    CompletionStage<Void> queueReady();

    /** Opens one message's Enqueue with its envelope. */
    DeliveryClient.Call enqueue(Envelope envelope);

    /** Publishes a connection's TLS outcome event. */
    void publish(TlsOutcome outcome);
}
