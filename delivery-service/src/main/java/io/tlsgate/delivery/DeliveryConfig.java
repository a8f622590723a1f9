package io.tlsgate.delivery;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.tlsgate.platform.tls.TlsEngine;

/** delivery-service settings ({@code tlsgate.delivery.*}). */
@ConfigMapping(prefix = "tlsgate.delivery")
public interface DeliveryConfig {

    /** Largest message accepted by Enqueue, in bytes. Default: 33554432 (32 MiB). */
    @WithDefault("33554432")
    int maxMessageSize();

    /** Required-TLS failure alerts for one domain and reason within this window are coalesced. Default: 15m. */
    @WithDefault("15m")
    java.time.Duration alertWindow();

    /** Most recipients of one message. Default: 1000. */
    @WithDefault("1000")
    int maxRecipients();

    /** policy-service's gRPC address (host:port). Default: localhost:8081. */
    @WithDefault("localhost:8091")
    String policyService();

    /** cert-service's gRPC address (host:port). Default: localhost:8082. */
    @WithDefault("localhost:8092")
    String certService();

    /** Deadline of each call to policy- and cert-service. Default: 5s. */
    @WithDefault("5s")
    java.time.Duration upstreamTimeout();

    /** How long trust anchors and the outbound client certificate are kept before asking cert-service again. Default: 30s. */
    @WithDefault("30s")
    java.time.Duration certRefresh();

    /** Port of remote MTAs found by MX lookup (routes may name their own). Default: 25. */
    @WithDefault("25")
    int smtpPort();

    /** MX hosts tried per domain, most preferred first (the rest are ignored). Default: 5. */
    @WithDefault("5")
    int mxHostLimit();

    /** Failed connections (refused, broken, TLS not acceptable), over every host, per domain in one delivery attempt. Default: 10. */
    @WithDefault("10")
    int connectionLimit();

    /**
     * The longest one domain's delivery attempt may take, every host and step together; a
     * connection still open then is cut off and the recipients are deferred. Default: 15m.
     */
    @WithDefault("15m")
    java.time.Duration domainDeadline();

    /**
     * Whether an MX answer may point at loopback, unspecified or this machine's own addresses
     * (for tests whose MX hosts listen on loopback; SMTP routes may name any address whatever
     * this says). Default: false.
     */
    @WithDefault("false")
    boolean mxLocalAddresses();

    /**
     * How long a connection waits, after its messages, for more to the same target (same
     * host, domain and TLS rules) before it says QUIT; 0 turns the wait off. Default: 2s.
     */
    @WithDefault("2s")
    java.time.Duration connectionIdle();

    /** TCP connect timeout per address. Default: 30s. */
    @WithDefault("30s")
    java.time.Duration connectTimeout();

    /** Wait for each reply (greeting, EHLO, MAIL, RCPT, DATA, QUIT); RFC 5321 §4.5.3.2 asks for 5 minutes. Default: 5m. */
    @WithDefault("5m")
    java.time.Duration replyTimeout();

    /** Wait for the reply to the end of the content; RFC 5321 §4.5.3.2.6 asks for 10 minutes. Default: 10m. */
    @WithDefault("10m")
    java.time.Duration dataTimeout();

    /**
     * The TLS implementation of outbound connections: {@code openssl} (BoringSSL, bundled for
     * Linux x86-64 and aarch64; where it cannot load, the JDK's is used and a warning logged) or
     * {@code jdk}. Default: openssl.
     */
    @WithDefault("openssl")
    TlsEngine tlsEngine();

    /** TLS handshake after STARTTLS. Default: 60s. */
    @WithDefault("60s")
    java.time.Duration handshakeTimeout();

    /**
     * Threads for the delivery steps that block briefly: policy and certificate lookups, DNS,
     * reading contents and recording results. The SMTP sessions do not use them (they run on
     * the event loop). Default: 8.
     */
    @WithDefault("8")
    int workers();

    /**
     * Most claimed groups (one message's recipients at one domain) in hand at once, waiting
     * for or in an SMTP session. Default: 500.
     */
    @WithDefault("500")
    int maxInFlight();

    /**
     * Most message content held in memory for SMTP sessions at once, in bytes; a piece of
     * messages waits for room before it is sent (one larger than this goes alone). Default:
     * 64 MiB.
     */
    @WithDefault("67108864")
    long maxContentInFlight();

    /**
     * Slow start: connections a destination domain gets at first from this replica; one more
     * per window of pieces that reached its server, one fewer per piece that could not, never
     * above its {@code maxConcurrentConnections}. Default: 5 (as Postfix's
     * {@code initial_destination_concurrency}).
     */
    @WithDefault("5")
    int initialDestinationConcurrency();

    /** Most recipients one worker claims at a time. Default: 50. */
    @WithDefault("50")
    int claimBatch();

    /** How often an idle worker looks for due work. Default: 1s. */
    @WithDefault("1s")
    java.time.Duration pollInterval();

    /**
     * How long claimed work stays leased to this replica; renewed every third of it while the
     * work is in hand; if the replica dies, other replicas (or it, after a restart) take the
     * work again when the lease runs out. Default: 5m.
     */
    @WithDefault("5m")
    java.time.Duration lease();

    /** Name sent in EHLO/HELO. Default: this machine's host name. */
    java.util.Optional<String> heloName();

    /** MTA-STS (RFC 8461) for destination domains reached through their MX hosts. */
    MtaSts mtaSts();

    /** {@code tlsgate.delivery.mta-sts.*} */
    interface MtaSts {
        /** Whether domains' MTA-STS policies are looked up and applied. Default: true. */
        @WithDefault("true")
        boolean enabled();

        /** Port of the policy hosts (mta-sts.DOMAIN); RFC 8461 says 443, tests use another. Default: 443. */
        @WithDefault("443")
        int httpsPort();

        /** The longest one policy fetch may take, connection to last byte. Default: 20s. */
        @WithDefault("20s")
        java.time.Duration fetchTimeout();

        /** Largest policy file read, in bytes (RFC 8461 §3.3 suggests 64 KiB). Default: 65536. */
        @WithDefault("65536")
        int maxPolicySize();

        /**
         * How often a cached policy's {@code _mta-sts} TXT record is looked at again (a new id:
         * the policy is fetched again). Default: 1h.
         */
        @WithDefault("1h")
        java.time.Duration checkInterval();

        /** A cached policy this close to its max_age is fetched again before it expires. Default: 1d. */
        @WithDefault("1d")
        java.time.Duration refreshBefore();
    }

    /** DANE for SMTP (RFC 7672) for destination domains reached through their MX hosts. */
    Dane dane();

    /** {@code tlsgate.delivery.dane.*} */
    interface Dane {
        /** Whether DNSSEC-secure TLSA records of MX hosts are looked up and applied. Default: true. */
        @WithDefault("true")
        boolean enabled();

        /**
         * File of DNSSEC trust anchors (DS or DNSKEY records, zone-file form). Default: the DNS
         * root's anchors as IANA publishes them (KSK-2017, KSK-2024), built in.
         */
        java.util.Optional<String> trustAnchors();

        /** How often DNSSEC validation is tried again while the resolvers do not pass signatures on. Default: 10m. */
        @WithDefault("10m")
        java.time.Duration probeEvery();
    }

    /** TLSRPT (RFC 8460): daily aggregate reports to the destination domains that ask for them. */
    Tlsrpt tlsrpt();

    /** {@code tlsgate.delivery.tlsrpt.*} */
    interface Tlsrpt {
        /** Whether reports are sent. Default: true. */
        @WithDefault("true")
        boolean enabled();

        /** The report's organization-name and submitter. Default: the HELO name. */
        java.util.Optional<String> organizationName();

        /** The report's contact-info. Default: postmaster@ the organization name. */
        java.util.Optional<String> contactInfo();

        /** Envelope and header sender of mailed reports. Default: postmaster@ the organization name. */
        java.util.Optional<String> from();

        /** When (UTC) the day before is reported. Default: 00:30. */
        @WithDefault("00:30")
        java.time.LocalTime sendAt();
    }

    /** The TLS check ({@code POST /api/v1/tls-check}). */
    TlsCheck tlsCheck();

    /** How often the queue's depth and age gauges are read ({@code tlsgate_queue_recipients}). Default: 15s. */
    @WithDefault("15s")
    java.time.Duration queueMetricsInterval();

    /** {@code tlsgate.delivery.retention.*}: how long finished messages are kept (docs/operations.md). */
    Retention retention();

    /** {@code tlsgate.delivery.retention.*} */
    interface Retention {
        /** A delivered, bounced or deleted message's content is removed this long after it finished. Default: 1h. */
        @WithDefault("1h")
        java.time.Duration content();

        /**
         * Its envelope, recipients and attempts are deleted this long after it finished; at
         * least 2 days (the TLSRPT reports read yesterday's attempts) and not less than
         * {@code content}. Default: 30d.
         */
        @WithDefault("30d")
        java.time.Duration records();

        /** How often each replica looks for finished messages to clean up. Default: 5m. */
        @WithDefault("5m")
        java.time.Duration interval();

        /** Messages per transaction: small, so that cleaning up never holds delivery's rows for long. Default: 500. */
        @WithDefault("500")
        int batch();
    }

    /** {@code tlsgate.delivery.tls-check.*} */
    interface TlsCheck {
        /** Checks of one destination (domain or address) started per window, on each replica. Default: 5. */
        @WithDefault("5")
        int perDestination();

        /** The window of {@code per-destination}. Default: 1m. */
        @WithDefault("1m")
        java.time.Duration window();

        /** Checks running at once on each replica; more get 429. Default: 4. */
        @WithDefault("4")
        int concurrent();

        /** A check's time limit when the request names none. Default: 60s. */
        @WithDefault("60s")
        java.time.Duration defaultTimeout();

        /** The longest time limit a request may ask for. Default: 300s. */
        @WithDefault("300s")
        java.time.Duration maxTimeout();

        /** The longest wait for one reply (or the connection, or the handshake) within a check. Default: 30s. */
        @WithDefault("30s")
        java.time.Duration stepTimeout();
    }

    /** Whether the scheduler runs (off: the queue only takes messages). Default: true. */
    @WithDefault("true")
    boolean schedulerEnabled();
}
