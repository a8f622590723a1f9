package io.tlsgate.listener.smtp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tlsgate.core.events.CloudEvent;
import io.tlsgate.core.events.Topics;
import io.tlsgate.platform.events.EventPublisher;
import io.tlsgate.platform.events.EventsConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One {@code io.tlsgate.tls.outcome} event per inbound connection that reached a TLS decision,
 * on {@code tlsgate.tls-outcomes}, keyed by the listener name (docs/events.md). Published when
 * the connection ends, so it carries every MID accepted on it. Never blocks a session: the
 * platform publisher buffers while Kafka is away.
 */
@ApplicationScoped
public class InboundEvents {

    /** The facts of one connection's TLS decision. */
    public record Outcome(long icid, List<Long> mids, String listener, String peerIp, String peerHost, boolean peerHostVerified,
            int peerPort, String senderGroup, String policy, String mode, String result, String resultType, String protocol,
            String cipher, String verification, String clientCertificate, String reason, Instant time) {}

    private final EventPublisher events;
    private final EventsConfig config;
    private final ObjectMapper json;

    InboundEvents(EventPublisher events, EventsConfig config, ObjectMapper json) {
        this.events = events;
        this.config = config;
        this.json = json;
    }

    public void publish(Outcome o) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("direction", "inbound");
        e.put("icid", o.icid());
        e.put("mids", o.mids());
        e.put("listener", o.listener());
        e.put("peerIp", o.peerIp());
        e.put("peerHost", o.peerHost());
        e.put("peerHostVerified", o.peerHostVerified());
        e.put("peerPort", o.peerPort());
        e.put("senderGroup", o.senderGroup());
        e.put("policy", o.policy());
        e.put("mode", o.mode());
        e.put("modeSource", o.senderGroup());
        e.put("result", o.result());
        e.put("resultType", o.resultType());
        e.put("protocol", o.protocol());
        e.put("cipher", o.cipher());
        e.put("verification", o.verification());
        e.put("clientCertificate", o.clientCertificate());
        e.put("reason", o.reason());
        e.put("time", o.time().toString());
        try {
            events.publish(CloudEvent.now(io.tlsgate.core.events.EventTypes.TLS_OUTCOME, config.source(), Topics.TLS_OUTCOMES, o.listener(), json.writeValueAsBytes(e)));
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }
}
