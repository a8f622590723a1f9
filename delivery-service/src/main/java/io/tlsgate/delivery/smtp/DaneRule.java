package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.TlsResultType;
import java.util.List;
import org.xbill.DNS.TLSARecord;

/**
 * DANE's rule for the connections to one MX host (RFC 7672): the certificate chain must match
 * one of {@code records} (found at {@code tlsaName}, DNSSEC-secure), and when {@code pkixToo}
 * also pass the destination's own verify mode (the operator's floor, which DANE only raises);
 * or, when {@code refusal} is set, the host must not be used at all (its TLSA lookup failed
 * or was bogus), which is recorded like a failed TLS decision without connecting.
 */
public record DaneRule(String tlsaName, List<TLSARecord> records, boolean pkixToo, TlsResultType refusal, String detail) {

    public static DaneRule match(String tlsaName, List<TLSARecord> records, boolean pkixToo) {
        return new DaneRule(tlsaName, List.copyOf(records), pkixToo, null, null);
    }

    public static DaneRule refuse(String tlsaName, TlsResultType type, String detail) {
        return new DaneRule(tlsaName, List.of(), false, type, detail);
    }

    public boolean refuses() {
        return refusal != null;
    }
}
