package io.tlsgate.delivery.check;

import java.time.Instant;
import java.util.List;

/**
 * The TLS check's result, as the REST API returns it (docs/delivery.md, "TLS check"): the
 * destination entry, DNS, MTA-STS, each host probed and the verdicts per outbound mode.
 *
 * @param judgedMode the mode the headline verdict is for: the request's, else the rules a
 *     delivery applies now ({@code effective})
 * @param timedOut the time limit ended the check before every host was probed
 */
public record TlsCheckReport(String target, String domain, Integer port, String judgedMode, Instant checkedAt, long elapsedMs,
        boolean timedOut, Destination destination, Dns dns, MtaSts mtaSts, List<Host> hosts, Verdict verdict,
        List<Verdict> verdicts, String error) {

    /** The destination controls' entry that applies, and its mode. */
    public record Destination(String matchedKey, String mode, String source) {}

    /** The MX lookup: hosts by preference, whether DNSSEC proved them, how long it took. */
    public record Dns(List<Mx> mx, boolean implicitMx, boolean secure, boolean daneApplied, long ms, String error) {}

    public record Mx(String name, int preference, List<String> addresses, boolean secure) {}

    /** The domain's MTA-STS policy as a delivery applies it now (null: none). */
    public record MtaSts(String mode, List<String> mx, long maxAgeSeconds) {}

    /**
     * One host probed (the first address a delivery would use).
     *
     * @param rule the TLS rules a delivery applies to this host now: mode and where it comes from
     * @param mtaSts whether the MTA-STS policy names the host ({@code named}, {@code not named}; null: no policy)
     * @param verdicts what a delivery would do with this host in each outbound mode of the destination controls
     * @param effective what a delivery would do under {@code rule}
     */
    public record Host(String name, Integer preference, boolean route, String address, int port, List<String> addresses,
            boolean dnsSecure, Tlsa tlsa, String mtaSts, Rule rule, Timings timings, String greeting, List<String> ehlo,
            boolean starttlsOffered, String starttlsReply, Tls tls, List<Certificate> certificates, List<NameCheck> names,
            Probe probe, List<Verdict> verdicts, Verdict effective, int score, List<String> scoreNotes, String error) {}

    /** DANE for the host: its TLSA name, records, what they make of it and what they require. */
    public record Tlsa(String name, List<String> records, String kind, String requires) {}

    public record Rule(String mode, String source, String refused) {}

    /** Milliseconds per step; null: not reached. */
    public record Timings(Long connectMs, Long greetingMs, Long ehloMs, Long starttlsMs, Long handshakeMs, Long probeMs) {}

    public record Tls(String protocol, String cipher, String cipherSuite, String keyExchange) {}

    /**
     * One certificate of the chain the server sent, leaf first. {@code verdict}: {@code ok}, or
     * the leaf's RFC 8460 failure against the trust anchors ({@code certificate-expired},
     * {@code certificate-not-trusted}, ...), or a fault of this certificate ({@code expired},
     * {@code not-yet-valid}, {@code bad-signature}, {@code self-signed}).
     */
    public record Certificate(String subject, String issuer, List<String> sans, Instant notBefore, Instant notAfter,
            String verdict, String reason) {}

    /** Whether the leaf certificate names {@code name} (the MX host, the domain, the host connected to). */
    public record NameCheck(String name, String kind, boolean matches) {}

    /** The envelope probe's replies (never DATA). */
    public record Probe(String mailFrom, String rcptTo, String rset, String quit) {}

    /** {@code outcome}: deliver-tls, deliver-plaintext, defer or bounce. */
    public record Verdict(String mode, String outcome, String host, String text) {}
}
