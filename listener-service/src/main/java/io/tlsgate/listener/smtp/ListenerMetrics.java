package io.tlsgate.listener.smtp;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * The listener's counters at {@code /q/metrics} (docs/operations.md, "Metrics"), counted where
 * the mail log writes its lines ({@link MailLog}), tagged only with the listener's name and a
 * few fixed words: {@code tlsgate_listener_sessions_total{listener}},
 * {@code tlsgate_listener_starttls_total{listener,result}} (success, failure),
 * {@code tlsgate_listener_rejections_total{listener,reason}},
 * {@code tlsgate_listener_messages_total{listener}} (queued) and
 * {@code tlsgate_tls_outcomes_total{direction="inbound",mode,result,result_type}}.
 */
@ApplicationScoped
public class ListenerMetrics {

    private static volatile MeterRegistry registry;

    private final MeterRegistry own;

    ListenerMetrics(MeterRegistry own) {
        this.own = own;
    }

    /** Before anything else starts (listeners bind at startup too). */
    void start(@Observes @jakarta.annotation.Priority(jakarta.interceptor.Interceptor.Priority.PLATFORM_BEFORE) StartupEvent ignored) {
        registry = own;
    }

    void stop(@Observes ShutdownEvent ignored) {
        if (registry == own) {
            registry = null;
        }
    }

    /** Rejection reasons, all shown (at 0) from the start so that dashboards and alerts see them. */
    static final java.util.List<String> REASONS = java.util.List.of("connection-limit", "client-limit", "policy-reject",
            "policy-tcprefuse", "relay-denied", "sender-must-use-tls", "tls-required", "too-big", "too-many-messages",
            "too-many-errors", "bare-newline", "recipient-lookup-failed", "queue-unavailable", "bounce-verification");

    private static void count(String name, String description, String... tags) {
        add(name, description, 1, tags);
    }

    private static void add(String name, String description, double by, String... tags) {
        MeterRegistry r = registry;
        if (r != null) {
            Counter.builder(name).description(description).tags(tags).register(r).increment(by);
        }
    }

    /** A listener serves SMTP: its series exist from now on, at 0 until something happens. */
    static void listenerBound(String listener) {
        add("tlsgate.listener.sessions", "SMTP sessions accepted", 0, "listener", listener);
        add("tlsgate.listener.messages", "Messages queued (committed by delivery-service)", 0, "listener", listener);
        for (String result : new String[] {"success", "failure"}) {
            add("tlsgate.listener.starttls", "STARTTLS handshakes", 0, "listener", listener, "result", result);
        }
        for (String reason : REASONS) {
            add("tlsgate.listener.rejections", "Connections, commands and messages refused", 0, "listener", listener, "reason", reason);
        }
    }

    static void session(SessionState s) {
        count("tlsgate.listener.sessions", "SMTP sessions accepted", "listener", s.listener.getName());
    }

    static void starttls(SessionState s, boolean ok) {
        count("tlsgate.listener.starttls", "STARTTLS handshakes", "listener", s.listener.getName(), "result", ok ? "success" : "failure");
    }

    /** {@code reason}: one of a fixed set of words (connection-limit, client-limit, relay-denied, ...). */
    static void rejected(SessionState s, String reason) {
        count("tlsgate.listener.rejections", "Connections, commands and messages refused", "listener", s.listener.getName(),
                "reason", reason);
    }

    static void queued(SessionState s) {
        count("tlsgate.listener.messages", "Messages queued (committed by delivery-service)", "listener", s.listener.getName());
    }

    static void tlsOutcome(String mode, String result, String resultType) {
        count("tlsgate.tls.outcomes", "TLS outcomes of SMTP connections", "direction", "inbound", "mode", mode, "result", result,
                "result_type", resultType == null ? "none" : resultType);
    }
}
