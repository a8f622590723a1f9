package io.tlsgate.core.tls;

import java.util.ArrayList;
import java.util.List;

/**
 * What an outbound connection does at each TLS step, exactly as docs/destination-controls.md says for each
 * mode. The SMTP client asks at every step ({@link #afterEhlo}, {@link #afterEhloReply},
 * {@link #afterStarttlsReply}, {@link #afterHandshake}, {@link #afterVerification}) and acts
 * on the {@link Step}; {@link #decide} runs all steps over what a peer did and gives the
 * connection's {@link Outcome} (used by the golden table, the mail log and the event).
 */
public final class OutboundTlsDecision {

    private OutboundTlsDecision() {}

    /** What to do next. */
    public enum Action {
        /** Go on to the next TLS step (send STARTTLS, handshake, verify). */
        CONTINUE,
        /** Deliver on this connection without TLS. */
        SEND_PLAINTEXT,
        /** Deliver on this connection over TLS. */
        SEND_ENCRYPTED,
        /** Send nothing; the attempt fails temporarily (next MX host, then retry later). */
        TEMPFAIL
    }

    /** The answer to one step. {@code reason} is the mail-log text of a failure, if any. */
    public record Step(Action action, String reason, TlsResultType resultType, boolean helo) {

        static Step next() {
            return new Step(Action.CONTINUE, null, null, false);
        }
    }

    /** What the peer did, in order; later facts are ignored once a step ends the TLS phase. */
    public record PeerFacts(boolean ehloAccepted, boolean starttlsAdvertised, int starttlsReply, String handshakeFailure,
            TlsResultType verificationFailureType, String verificationDetail) {}

    /**
     * The connection's TLS outcome.
     *
     * @param result for the event
     * @param resultType RFC 8460 result type (or {@code handshake-failure}) of a failure, else null
     * @param verification {@code SUCCESS}, {@code FAILURE} or {@code NOT_CHECKED}
     * @param alert whether a required-TLS alert is due (REQUIRED* modes)
     * @param logLines the mail-log lines after {@code DCID n } (protocol and cipher as placeholders)
     */
    public record Outcome(Action action, boolean encrypted, boolean helo, TlsResult result, TlsResultType resultType,
            Verification verification, boolean alert, List<String> logLines) {}

    public static final String NO_ESMTP = "EHLO rejected (no ESMTP)";
    public static final String NOT_ADVERTISED = "STARTTLS not advertised";
    public static final String UNEXPECTED_RESPONSE = "STARTTLS unexpected response";
    public static final String STARTTLS_INJECTION = "STARTTLS response injection";

    /** The EHLO reply: rejected means no ESMTP, so HELO (plaintext) where the mode allows it. */
    public static Step afterEhlo(OutboundTlsMode mode, boolean accepted) {
        if (accepted) {
            return Step.next();
        }
        if (mode.requiresTls()) {
            return new Step(Action.TEMPFAIL, NO_ESMTP, TlsResultType.STARTTLS_NOT_SUPPORTED, false);
        }
        return new Step(Action.SEND_PLAINTEXT, mode.attemptsTls() ? NO_ESMTP : null,
                mode.attemptsTls() ? TlsResultType.STARTTLS_NOT_SUPPORTED : null, true);
    }

    /** The EHLO keywords: send STARTTLS when advertised and the mode attempts TLS. */
    public static Step afterEhloReply(OutboundTlsMode mode, boolean starttlsAdvertised) {
        if (!mode.attemptsTls()) {
            return new Step(Action.SEND_PLAINTEXT, null, null, false);
        }
        if (starttlsAdvertised) {
            return Step.next();
        }
        return mode.requiresTls() ? new Step(Action.TEMPFAIL, NOT_ADVERTISED, TlsResultType.STARTTLS_NOT_SUPPORTED, false)
                : new Step(Action.SEND_PLAINTEXT, NOT_ADVERTISED, TlsResultType.STARTTLS_NOT_SUPPORTED, false);
    }

    /** The reply to STARTTLS: 220 means handshake; anything else is a failure "before 220". */
    public static Step afterStarttlsReply(OutboundTlsMode mode, int code) {
        if (code == 220) {
            return Step.next();
        }
        return mode.requiresTls() ? new Step(Action.TEMPFAIL, UNEXPECTED_RESPONSE, TlsResultType.STARTTLS_NOT_SUPPORTED, false)
                : new Step(Action.SEND_PLAINTEXT, UNEXPECTED_RESPONSE, TlsResultType.STARTTLS_NOT_SUPPORTED, false);
    }

    /** The handshake: a failure "after 220" never falls back to plaintext on that connection. */
    public static Step afterHandshake(OutboundTlsMode mode, String failure) {
        if (failure == null) {
            return mode.verifiesCertificate() ? Step.next() : new Step(Action.SEND_ENCRYPTED, null, null, false);
        }
        return new Step(Action.TEMPFAIL, failure, TlsResultType.HANDSHAKE_FAILURE, false);
    }

    /**
     * Bytes after the {@code 220} to STARTTLS and before the handshake (RFC 3207 §4.2; the
     * CVE-2011-0411 class): whoever sent them may be a man in the middle steering the session
     * that is about to be encrypted, so the connection is dropped, in every mode, and nothing
     * is sent on it.
     */
    public static Step afterStarttlsInjection(String detail) {
        return new Step(Action.TEMPFAIL, STARTTLS_INJECTION + ": " + detail, TlsResultType.VALIDATION_FAILURE, false);
    }

    /**
     * The certificate check (verify modes): PREFERRED_VERIFY reports a failure and still
     * sends encrypted; the REQUIRED_VERIFY modes send nothing.
     *
     * @param failureType RFC 8460 type of the failure, null when the certificate verified
     */
    public static Step afterVerification(OutboundTlsMode mode, TlsResultType failureType, String detail) {
        if (failureType == null) {
            return new Step(Action.SEND_ENCRYPTED, null, null, false);
        }
        return new Step(mode.requiresVerifiedCertificate() ? Action.TEMPFAIL : Action.SEND_ENCRYPTED, detail, failureType,
                false);
    }

    /**
     * The connection's TLS result as events report it: {@code not-attempted},
     * {@code failure}, {@code success} (a failed check in PREFERRED_VERIFY shows in the
     * verification, not here) or {@code plaintext-fallback}.
     */
    public static TlsResult result(OutboundTlsMode mode, Action finalAction) {
        if (!mode.attemptsTls()) {
            return TlsResult.NOT_ATTEMPTED;
        }
        if (finalAction == Action.TEMPFAIL) {
            return TlsResult.FAILURE;
        }
        return finalAction == Action.SEND_ENCRYPTED ? TlsResult.SUCCESS : TlsResult.PLAINTEXT_FALLBACK;
    }

    /** All steps over what a peer did. */
    public static Outcome decide(OutboundTlsMode mode, PeerFacts peer) {
        List<String> log = new ArrayList<>();
        Step s = afterEhlo(mode, peer.ehloAccepted());
        if (s.action() == Action.CONTINUE) {
            s = afterEhloReply(mode, peer.starttlsAdvertised());
        }
        if (s.action() == Action.CONTINUE) {
            s = afterStarttlsReply(mode, peer.starttlsReply());
        }
        if (s.action() == Action.CONTINUE) {
            s = afterHandshake(mode, peer.handshakeFailure());
            if (s.action() != Action.TEMPFAIL) {
                log.add("TLS success protocol {protocol} cipher {cipher}");
            }
        }
        Verification verification = Verification.NOT_CHECKED;
        if (s.action() == Action.CONTINUE) {
            s = afterVerification(mode, peer.verificationFailureType(), peer.verificationDetail());
            verification = s.resultType() == null ? Verification.SUCCESS : Verification.FAILURE;
            log.add(s.resultType() == null ? "TLS verify success: {reference}"
                    : "TLS verify failed: " + s.resultType().wire() + ": " + s.reason());
        } else if (s.reason() != null) {
            log.add("TLS failed: " + s.reason());
        }
        boolean encrypted = s.action() == Action.SEND_ENCRYPTED;
        TlsResult result = result(mode, s.action());
        boolean alert = mode.alertsOnFailure() && s.action() == Action.TEMPFAIL;
        if (alert) {
            log.add("IP {ip} TLS was required but could not be successfully negotiated");
        }
        return new Outcome(s.action(), encrypted, s.helo(), result, s.resultType(), verification, alert, List.copyOf(log));
    }
}
