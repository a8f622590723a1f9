package io.tlsgate.core.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The outcome event's fields, both directions, as docs/events.md lists them. */
class TlsOutcomeTest {

    private static final Instant AT = Instant.parse("2026-11-25T16:00:00Z");

    @Test
    void outboundFields() {
        TlsOutcome o = new TlsOutcome(new TlsOutcome.Outbound(41014367, List.of(179701982L), "192.0.2.25", "mx1.example.com", 25,
                "example.com"), "REQUIRED_VERIFY", "example.com", TlsResult.FAILURE, TlsResultType.CERTIFICATE_HOST_MISMATCH,
                "certificate name mismatch", "TLSv1.3", "TLS_AES_256_GCM_SHA384", Verification.FAILURE, AT);
        Map<String, Object> f = o.fields();
        assertEquals(List.of("direction", "dcid", "mids", "peerIp", "peerHost", "peerPort", "domain", "mode", "modeSource", "result",
                "resultType", "reason", "protocol", "cipher", "verification", "time"), new ArrayList<>(f.keySet()));
        assertEquals("outbound", f.get("direction"));
        assertEquals(41014367L, f.get("dcid"));
        assertEquals(List.of(179701982L), f.get("mids"));
        assertEquals(25, f.get("peerPort"));
        assertEquals("failure", f.get("result"));
        assertEquals("certificate-host-mismatch", f.get("resultType"));
        assertEquals("failure", f.get("verification"));
        assertEquals("2026-11-25T16:00:00Z", f.get("time"));
        assertEquals("example.com", o.key());
    }

    @Test
    void inboundFields() {
        TlsOutcome o = new TlsOutcome(new TlsOutcome.Inbound(1639972345, List.of(41L, 42L), "inbound", "192.0.2.7",
                "mx1.partner.example", true, 40112, "PARTNERS", "TLS_ONLY", "CN=client.partner.example"), "REQUIRED_VERIFY",
                "PARTNERS", TlsResult.SUCCESS, null, null, "TLSv1.3", "TLS_AES_256_GCM_SHA384", Verification.SUCCESS, AT);
        Map<String, Object> f = o.fields();
        assertEquals(List.of("direction", "icid", "mids", "listener", "peerIp", "peerHost", "peerHostVerified", "peerPort",
                "senderGroup", "policy", "mode", "modeSource", "result", "resultType", "reason", "protocol", "cipher",
                "verification", "clientCertificate", "time"), new ArrayList<>(f.keySet()));
        assertEquals("inbound", f.get("direction"));
        assertEquals(1639972345L, f.get("icid"));
        assertEquals(true, f.get("peerHostVerified"));
        assertEquals("success", f.get("result"));
        assertEquals(null, f.get("resultType"));
        assertEquals("CN=client.partner.example", f.get("clientCertificate"));
        assertEquals("inbound", o.key());
    }

    @Test
    void wireSpellings() {
        assertEquals(List.of("success", "failure", "not-presented", "not-checked"),
                java.util.Arrays.stream(Verification.values()).map(Verification::wire).toList());
        for (TlsResultType t : TlsResultType.values()) {
            assertEquals(t, TlsResultType.ofWire(t.wire()));
        }
        assertEquals(TlsResultType.CERTIFICATE_EXPIRED, TlsResultType.ofWire("certificate-expired"));
    }
}
