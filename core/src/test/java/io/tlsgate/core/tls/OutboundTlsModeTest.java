package io.tlsgate.core.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The decision table of the outbound TLS modes (docs/destination-controls.md), spelled out row by row. */
class OutboundTlsModeTest {

    @Test
    void predicatesMatchTheSpecTable() {
        String table = Arrays.stream(OutboundTlsMode.values())
                .map(m -> String.format("%s attempt=%b require=%b verify=%b mustVerify=%b hosted=%b alert=%b",
                        m, m.attemptsTls(), m.requiresTls(), m.verifiesCertificate(),
                        m.requiresVerifiedCertificate(), m.usesHostedIdentityRules(), m.alertsOnFailure()))
                .collect(Collectors.joining("\n"));
        assertEquals(String.join("\n",
                "NONE attempt=false require=false verify=false mustVerify=false hosted=false alert=false",
                "PREFERRED attempt=true require=false verify=false mustVerify=false hosted=false alert=false",
                "REQUIRED attempt=true require=true verify=false mustVerify=false hosted=false alert=true",
                "PREFERRED_VERIFY attempt=true require=false verify=true mustVerify=false hosted=false alert=false",
                "REQUIRED_VERIFY attempt=true require=true verify=true mustVerify=true hosted=false alert=true",
                "REQUIRED_VERIFY_HOSTED_DOMAINS attempt=true require=true verify=true mustVerify=true hosted=true alert=true"),
                table);
    }
}
