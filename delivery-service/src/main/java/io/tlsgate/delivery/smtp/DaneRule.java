package io.tlsgate.delivery.smtp;

import java.util.List;
import org.xbill.DNS.TLSARecord;

/**
 * DANE's rule for the connections to one MX host (RFC 7672): the certificate chain must match
 * one of {@code records} (found at {@code tlsaName}, DNSSEC-secure), and when {@code pkixToo}
 * also pass the destination's own verify mode (the operator's floor, which DANE only raises).
 */
public record DaneRule(String tlsaName, List<TLSARecord> records, boolean pkixToo) {

    public DaneRule {
        records = List.copyOf(records);
    }
}
