package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.OutboundTlsDecision.Action;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.platform.dns.MxResolver;
import java.io.IOException;
import java.net.InetAddress;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Delivers one message to one domain: tries its MX hosts in preference order, each address of
 * each host, and moves on to the next after a connection or TLS failure (product.md §2: "a
 * TLS failure on one host moves on to the next host of equal or lower preference before the
 * attempt counts as failed"). Stops at the first host that takes the message.
 */
public final class DomainDelivery {

    /** Every connection made, in order, and the last one's result (null when none could be made). */
    public record Outcome(List<SmtpDeliveryAttempt.Result> attempts, SmtpDeliveryAttempt.Result last, String error) {

        public boolean delivered() {
            return last != null && last.delivered();
        }
    }

    private final MxResolver mx;
    private final int port;
    private final LongSupplier dcids;

    public DomainDelivery(MxResolver mx, int port, LongSupplier dcids) {
        this.mx = mx;
        this.port = port;
        this.dcids = dcids;
    }

    public Outcome deliver(String domain, OutboundTlsMode mode, List<X509Certificate> anchors, String heloName,
            SmtpDeliveryAttempt.Message message) {
        MxResolver.Answer answer = mx.resolve(domain);
        if (answer.hosts().isEmpty()) {
            return new Outcome(List.of(), null, answer.error());
        }
        List<String> mxNames = answer.hosts().stream().map(MxResolver.Host::name).toList();
        List<SmtpDeliveryAttempt.Result> attempts = new ArrayList<>();
        String error = null;
        for (MxResolver.Host h : answer.hosts()) {
            for (InetAddress a : h.addresses()) {
                SmtpDeliveryAttempt.Target t = new SmtpDeliveryAttempt.Target(a.getHostAddress(), port, h.name(), domain,
                        mxNames, null, mode, anchors, heloName);
                try {
                    SmtpDeliveryAttempt.Result r = new SmtpDeliveryAttempt(dcids.getAsLong()).run(t, message);
                    attempts.add(r);
                    if (r.action() != Action.TEMPFAIL) {
                        return new Outcome(List.copyOf(attempts), r, null);
                    }
                } catch (IOException e) {
                    error = "Connection Error: domain: " + domain + " IP: " + a.getHostAddress() + " port: " + port
                            + " details: " + e.getMessage();
                }
            }
        }
        return new Outcome(List.copyOf(attempts), attempts.isEmpty() ? null : attempts.get(attempts.size() - 1),
                error == null ? "every MX host failed" : error);
    }
}
