package io.tlsgate.delivery.check;

import io.tlsgate.core.sts.MtaStsPolicy;
import io.tlsgate.delivery.smtp.DomainDelivery;
import io.tlsgate.delivery.smtp.TlsProbe;
import java.util.ArrayList;
import java.util.List;

/**
 * A host's score, 0 to 100, by the rules of docs/delivery.md ("TLS check"): 20 for an SMTP
 * greeting, 20 for STARTTLS with a completed handshake, 10 for TLS 1.3 (5 for TLS 1.2), 10 for
 * a forward-secret key exchange, 20 for a chain that verifies against the trust anchors, 10
 * for a certificate that names the host, 10 when DNS authenticates it (DANE records that
 * match, or an MTA-STS enforce policy that names the host and whose check passes).
 * {@code notes} say what earned or cost points.
 */
record Score(int points, List<String> notes) {

    static Score of(TlsProbe.Facts f, List<TlsCheckReport.Certificate> certificates, List<TlsCheckReport.NameCheck> names,
            DomainDelivery.Tls rule, MtaStsPolicy sts, DomainDelivery.Hop hop, TlsCheckReport.Verdict effective) {
        List<String> notes = new ArrayList<>();
        if (!f.greeted()) {
            notes.add("0: no SMTP greeting (" + (f.greeting != null ? TlsProbe.firstLine(f.greeting) : f.error) + ")");
            return new Score(0, notes);
        }
        int points = 20;
        notes.add("+20 SMTP greeting");
        if (!f.encrypted()) {
            notes.add("+0 no TLS: " + (!f.starttlsOffered ? "STARTTLS not offered"
                    : f.starttlsCode() != 220 ? "STARTTLS refused: " + TlsProbe.firstLine(f.starttlsReply)
                    : f.injection != null ? "plaintext after the 220 to STARTTLS" : "handshake failed: " + f.handshakeFailure));
            return new Score(points, notes);
        }
        points += 20;
        notes.add("+20 STARTTLS and TLS handshake");
        if ("TLSv1.3".equals(f.protocol)) {
            points += 10;
            notes.add("+10 TLS 1.3");
        } else if ("TLSv1.2".equals(f.protocol)) {
            points += 5;
            notes.add("+5 TLS 1.2 (10 for TLS 1.3)");
        } else {
            notes.add("+0 " + f.protocol + " (outdated)");
        }
        boolean forwardSecret = "TLSv1.3".equals(f.protocol) || (f.keyExchange != null && !f.keyExchange.startsWith("RSA"));
        if (forwardSecret) {
            points += 10;
            notes.add("+10 forward secrecy" + (f.keyExchange == null ? "" : " (" + f.keyExchange + ")"));
        } else {
            notes.add("+0 no forward secrecy" + (f.keyExchange == null ? "" : " (" + f.keyExchange + ")"));
        }
        TlsCheckReport.Certificate leaf = certificates.isEmpty() ? null : certificates.get(0);
        if (leaf != null && leaf.verdict().equals("ok")) {
            points += 20;
            notes.add("+20 certificate chain verifies");
        } else {
            notes.add("+0 certificate chain does not verify" + (leaf == null ? "" : ": " + leaf.reason()));
        }
        TlsCheckReport.NameCheck host = names.isEmpty() ? null : names.get(0);
        if (host != null && host.matches()) {
            points += 10;
            notes.add("+10 certificate names " + host.name());
        } else {
            notes.add("+0 certificate does not name " + hop.name());
        }
        boolean delivers = effective.outcome().equals("deliver-tls");
        if (rule.dane() != null && delivers) {
            points += 10;
            notes.add("+10 DANE: the chain matches the TLSA records");
        } else if (sts != null && sts.mode() == MtaStsPolicy.Mode.ENFORCE && sts.allows(hop.name()) && delivers) {
            points += 10;
            notes.add("+10 MTA-STS enforce names this host and its certificate passes");
        } else {
            notes.add("+0 not authenticated by DNS (no matching DANE records, no MTA-STS enforce policy naming it)");
        }
        return new Score(points, notes);
    }
}
