package io.tlsgate.listener;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/** listener-service settings ({@code tlsgate.listener.*}); docs/configuration.md lists them. */
@ConfigMapping(prefix = "tlsgate.listener")
public interface ListenerConfig {

    /**
     * How often a replica records that it is alive. A replica is shown as not alive after
     * three missed heartbeats. Default: 30s.
     */
    @WithDefault("30s")
    Duration heartbeatInterval();

    /**
     * Whether this replica serves SMTP (default true). Off in the module's own tests, which run
     * without the other services; the cluster tests in devstack run it for real.
     */
    @WithDefault("true")
    boolean smtpEnabled();

    /** policy-service's gRPC address (host:port): listeners, HAT, RAT. */
    @WithDefault("localhost:8091")
    String policyService();

    /** cert-service's gRPC address: the listeners' certificates and the trusted CAs. */
    @WithDefault("localhost:8092")
    String certService();

    /** delivery-service's gRPC address: Enqueue. */
    @WithDefault("localhost:8093")
    String deliveryService();

    /** Deadline of one policy lookup (HAT, RAT). */
    @WithDefault("5s")
    Duration upstreamTimeout();

    /** Deadline of one Enqueue, from the end of DATA to the commit. */
    @WithDefault("60s")
    Duration enqueueTimeout();

    /**
     * Added to every listener's configured port. 0 in a deployment; devstack sets its own
     * port offset so that two stacks on one machine do not collide.
     */
    @WithDefault("0")
    int portOffset();

    /** When set, every listener binds this address instead of its configured one (devstack: 127.0.0.1). */
    Optional<String> bindAddress();

    /**
     * Octets a command line may have beyond RFC 5321's 512 (CRLF included); a longer line is
     * answered {@code 500 5.5.2} and discarded without being buffered. Default 512 (1024 in all).
     */
    @WithDefault("512")
    int commandLineTolerance();

    /**
     * What a bare LF or bare CR (one that is not part of a CRLF) from a client does, in command
     * lines and in message content. {@code reject} (default): {@code 550 5.5.2 Error: bare <LF>
     * received} (or {@code <CR>}), the message is not queued and the connection is closed, as
     * Postfix's {@code smtpd_forbid_bare_newline = reject}. {@code normalize}: each becomes CRLF;
     * the message still ends only at an exact CRLF.CRLF, and a lone "." line ended by a bare LF or
     * CR is content. Either way nothing a lenient server downstream would read as an end of data
     * ("SMTP smuggling") leaves the listener.
     */
    @WithDefault("reject")
    BareNewline bareNewline();

    /** The choices of {@link #bareNewline()}. */
    enum BareNewline {
        /** 550 5.5.2 and disconnect; a message in progress is not queued. */
        REJECT,
        /** Treat as CRLF, except that only CRLF.CRLF ends the message. */
        NORMALIZE
    }

    /** A client that sends nothing for this long gets {@code 421 4.4.2} and is disconnected (RFC 5321 §4.5.3.2: 5 min). */
    @WithDefault("5m")
    Duration idleTimeout();

    /** Longest session, however busy (slowloris): then {@code 421 4.4.2} and disconnect. */
    @WithDefault("30m")
    Duration sessionTimeout();

    /**
     * The TLS implementation of STARTTLS: {@code openssl} (BoringSSL through netty-tcnative,
     * bundled for Linux x86-64 and aarch64; where it cannot load, the JDK's, with a warning) or
     * {@code jdk}.
     */
    @WithDefault("openssl")
    io.tlsgate.platform.tls.TlsEngine tlsEngine();

    /** Longest TLS handshake after {@code 220 Ready to start TLS}. */
    @WithDefault("30s")
    Duration handshakeTimeout();

    /** Reverse-DNS (PTR + forward confirmation) budget per connection; after it the client is "unknown". */
    @WithDefault("5s")
    Duration reverseDnsTimeout();

    /** Protocol errors (unknown commands, bad syntax) after which the session is closed with 421. */
    @WithDefault("20")
    int maxErrors();

    /** TLS protocols offered to clients. */
    @WithDefault("TLSv1.3,TLSv1.2")
    java.util.List<String> tlsProtocols();

    /** Cipher suites offered (JSSE names): forward secrecy and AEAD only by default. */
    @WithDefault("TLS_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256,TLS_CHACHA20_POLY1305_SHA256,"
            + "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,"
            + "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
            + "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
    java.util.List<String> tlsCiphers();
}
