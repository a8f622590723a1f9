package io.tlsgate.listener.smtp;

import static io.tlsgate.listener.smtp.SmtpTestServer.policy;

import io.tlsgate.core.smtp.BounceTags;
import io.tlsgate.platform.bounce.BounceVerification;
import io.tlsgate.platform.tls.TlsEngine;
import io.tlsgate.proto.policy.v1.Behaviour;
import io.tlsgate.proto.policy.v1.InboundTls;
import io.tlsgate.testkit.SmtpDialogue;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Bounce verification at RCPT on a real socket: a bounce (null sender) to a tagged address is
 * taken when the tag is valid, refused when it is forged or expired; untagged bounces are
 * refused only when configured so, postmaster always taken; mail with a sender is never
 * refused for a tag; RELAY clients are not checked.
 */
class BounceVerificationSmtpTest {

    private static final String ACCEPT = "127.0.0.2";
    private static final String RELAY = "127.0.0.3";
    private static final List<String> KEYS = List.of("4:" + Base64.getEncoder()
            .encodeToString("listener test key, 32 bytes long".getBytes(StandardCharsets.US_ASCII)));

    private static SmtpTestServer server(boolean rejectUntagged) throws Exception {
        SmtpTestServer s = new SmtpTestServer(TlsEngine.JDK, 20, BounceVerification.of(KEYS, 7, rejectUntagged));
        s.hat.put(ACCEPT, policy("ACCEPTLIST", Behaviour.ACCEPT, InboundTls.OFF));
        s.hat.put(RELAY, policy("RELAYLIST", Behaviour.RELAY, InboundTls.OFF));
        s.rat.add("example.com");
        return s;
    }

    private static String tagged(String address, LocalDate day) {
        return BounceTags.of(KEYS, 7).tag(address, day);
    }

    @Test
    void bouncesToTaggedAddressesNeedAValidTag() throws Exception {
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        String valid = tagged("alice@example.com", today);
        String expired = tagged("alice@example.com", today.minusDays(8));
        String forged = valid.replace("alice@", "mallory@");
        try (SmtpTestServer s = server(false); SmtpDialogue c = s.connect(ACCEPT)) {
            c.run("""
                    S: 220 *
                    C: HELO bounce.example.net
                    S: 250 *
                    C: MAIL FROM:<>
                    S: 250 2.1.0 Ok
                    C: RCPT TO:<%s>
                    S: 250 2.1.5 Ok
                    C: RCPT TO:<%s>
                    S: 550 5.7.1 <%s>: bounce verification failed: the address tag is invalid or expired
                    C: RCPT TO:<%s>
                    S: 550 5.7.1 <%s>: bounce verification failed: the address tag is invalid or expired
                    C: RCPT TO:<bob@example.com>
                    S: 250 2.1.5 Ok
                    C: RSET
                    S: 250 *
                    C: MAIL FROM:<someone@example.net>
                    S: 250 2.1.0 Ok
                    C: RCPT TO:<%s>
                    S: 250 2.1.5 Ok
                    C: QUIT
                    S: 221 *
                    """.formatted(valid, expired, expired, forged, forged, forged));
        }
    }

    @Test
    void untaggedBouncesAreRefusedWhenConfiguredButPostmasterAndRelayClientsAreNot() throws Exception {
        String valid = tagged("alice@example.com", LocalDate.now(ZoneOffset.UTC));
        try (SmtpTestServer s = server(true)) {
            try (SmtpDialogue c = s.connect(ACCEPT)) {
                c.run("""
                        S: 220 *
                        C: HELO bounce.example.net
                        S: 250 *
                        C: MAIL FROM:<>
                        S: 250 2.1.0 Ok
                        C: RCPT TO:<bob@example.com>
                        S: 550 5.7.1 <bob@example.com>: bounce verification failed: bounces are accepted only for tagged addresses
                        C: RCPT TO:<PostMaster@example.com>
                        S: 250 2.1.5 Ok
                        C: RCPT TO:<%s>
                        S: 250 2.1.5 Ok
                        C: RSET
                        S: 250 *
                        C: MAIL FROM:<someone@example.net>
                        S: 250 2.1.0 Ok
                        C: RCPT TO:<bob@example.com>
                        S: 250 2.1.5 Ok
                        C: QUIT
                        S: 221 *
                        """.formatted(valid));
            }
            try (SmtpDialogue c = s.connect(RELAY)) {
                c.run("""
                        S: 220 *
                        C: HELO internal.example.com
                        S: 250 *
                        C: MAIL FROM:<>
                        S: 250 2.1.0 Ok
                        C: RCPT TO:<someone@example.net>
                        S: 250 2.1.5 Ok
                        C: QUIT
                        S: 221 *
                        """);
            }
        }
    }
}
