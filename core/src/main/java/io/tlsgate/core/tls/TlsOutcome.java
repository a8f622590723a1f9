package io.tlsgate.core.tls;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One connection's TLS decision, inbound or outbound: the facts both services publish as an
 * {@code io.tlsgate.tls.outcome} event (docs/events.md). {@link #fields()} is the one place the
 * event's JSON fields are written; {@link #key()} its Kafka key.
 *
 * @param connection which connection, and the facts only one direction has
 * @param mode the outbound TLS mode or the inbound TLS setting, by name
 * @param modeSource the destination entry (outbound) or sender group (inbound) that supplied the mode
 * @param resultType why TLS failed; null unless {@code result} is a failure (or a failed optional check)
 * @param reason the failure as the mail log says it; null when there was none
 * @param protocol the TLS protocol, null without TLS
 * @param cipher the cipher suite (OpenSSL name), null without TLS
 */
public record TlsOutcome(Connection connection, String mode, String modeSource, TlsResult result, TlsResultType resultType,
        String reason, String protocol, String cipher, Verification verification, Instant time) {

    /** The connection an outcome is about. */
    public sealed interface Connection {
        /** The connection's id: ICID or DCID. */
        long id();

        /** The messages accepted (inbound) or offered (outbound) on it. */
        List<Long> mids();

        String peerIp();

        /** The peer's host name (outbound: the MX or route host; inbound: reverse DNS), null when unknown. */
        String peerHost();

        int peerPort();
    }

    /** A connection to a server for a destination domain (delivery-service). */
    public record Outbound(long id, List<Long> mids, String peerIp, String peerHost, int peerPort, String domain)
            implements Connection {}

    /** A client's connection to a listener (listener-service). */
    public record Inbound(long id, List<Long> mids, String listener, String peerIp, String peerHost, boolean peerHostVerified,
            int peerPort, String senderGroup, String policy, String clientCertificate) implements Connection {}

    /** The event's key: the destination domain (outbound) or the listener's name (inbound). */
    public String key() {
        return connection instanceof Inbound i ? i.listener() : ((Outbound) connection).domain();
    }

    /** The event's JSON fields, in the order docs/events.md shows them; absent values are null. */
    public Map<String, Object> fields() {
        Map<String, Object> e = new LinkedHashMap<>();
        if (connection instanceof Outbound o) {
            e.put("direction", "outbound");
            e.put("dcid", o.id());
            e.put("mids", o.mids());
            e.put("peerIp", o.peerIp());
            e.put("peerHost", o.peerHost());
            e.put("peerPort", o.peerPort());
            e.put("domain", o.domain());
        } else if (connection instanceof Inbound i) {
            e.put("direction", "inbound");
            e.put("icid", i.id());
            e.put("mids", i.mids());
            e.put("listener", i.listener());
            e.put("peerIp", i.peerIp());
            e.put("peerHost", i.peerHost());
            e.put("peerHostVerified", i.peerHostVerified());
            e.put("peerPort", i.peerPort());
            e.put("senderGroup", i.senderGroup());
            e.put("policy", i.policy());
        }
        e.put("mode", mode);
        e.put("modeSource", modeSource);
        e.put("result", result.wire());
        e.put("resultType", resultType == null ? null : resultType.wire());
        e.put("reason", reason);
        e.put("protocol", protocol);
        e.put("cipher", cipher);
        e.put("verification", verification.wire());
        if (connection instanceof Inbound i) {
            e.put("clientCertificate", i.clientCertificate());
        }
        e.put("time", time.toString());
        return Collections.unmodifiableMap(e);
    }
}
