package io.tlsgate.listener.smtp;

import io.tlsgate.listener.ListenerConfig;
import io.tlsgate.listener.upstream.CertClient;
import io.tlsgate.listener.upstream.DeliveryClient;
import io.tlsgate.listener.upstream.PolicyClient;
import io.tlsgate.platform.dns.ReverseDns;

/** What every SMTP session uses: settings and the clients of the other services. */
record SmtpContext(ListenerConfig config, PolicyClient policy, CertClient certs, DeliveryClient delivery, InboundEvents events,
        ReverseDns reverseDns) {}
