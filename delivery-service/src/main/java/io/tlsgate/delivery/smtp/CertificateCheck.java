package io.tlsgate.delivery.smtp;

import io.tlsgate.core.tls.Verification;
import io.tlsgate.core.tls.TlsResultType;
import io.tlsgate.core.tls.CertificateIdentity;
import io.tlsgate.platform.tls.PeerTrust;
import io.tlsgate.delivery.smtp.SmtpDeliveryAttempt.Target;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * A verify mode's verdict on the server's certificate: the chain against the trust anchors
 * ({@link PeerTrust}, after the handshake, on every connection: a resumed TLS session
 * included, with the anchors in force now), then the mode's identity rule
 * ({@link CertificateIdentity}). {@code failureType} is null when both passed; then
 * {@code reference} is the reference identity the certificate matched.
 */
public record CertificateCheck(TlsResultType failureType, String detail, String reference) {

    /**
     * The verdict on {@code chain} (leaf first), sent in a session of {@code protocol} and
     * {@code cipherSuite}: by DANE when the host has usable TLSA records (and then by the
     * destination's own verify mode too when that is the floor), else by the trust anchors and
     * the mode's identity rule.
     */
    public static CertificateCheck of(Target t, X509Certificate[] chain, String protocol, String cipherSuite) {
        if (t.dane() != null) {
            CertificateCheck dane = DaneCheck.of(t.dane(), chain, t.connectedName(), t.recipientDomain());
            if (dane.failureType() != null || !t.dane().pkixToo()) {
                return dane;
            }
            CertificateCheck pkix = pkix(t, chain, protocol, cipherSuite);
            return pkix.failureType() != null ? pkix : new CertificateCheck(null, null, dane.reference() + "; " + pkix.reference());
        }
        return pkix(t, chain, protocol, cipherSuite);
    }

    /** The chain against the trust anchors, then the mode's (or MTA-STS's) identity rule. */
    private static CertificateCheck pkix(Target t, X509Certificate[] chain, String protocol, String cipherSuite) {
        PeerTrust.Failure trust = t.trust().check(chain, PeerTrust.Role.SERVER, PeerTrust.authType(protocol, cipherSuite));
        TlsResultType failureType = trust == null ? null : trust.type();
        String detail = trust == null ? null : trust.detail();
        String reference = null;
        if (failureType == null) {
            CertificateIdentity.Match match = identity(t, chain[0]);
            if (match.matched()) {
                reference = match.referenceIdentity();
            } else {
                failureType = TlsResultType.CERTIFICATE_HOST_MISMATCH;
                detail = match.detail();
            }
        }
        return new CertificateCheck(failureType, detail, reference);
    }

    /** The result's verification: success or failure. */
    public Verification verification() {
        return failureType == null ? Verification.SUCCESS : Verification.FAILURE;
    }

    private static CertificateIdentity.Match identity(Target t, X509Certificate leaf) {
        String cn = CertificateIdentity.commonName(leaf);
        List<String> sans = CertificateIdentity.dnsNames(leaf);
        if (t.mxNameOnly()) {
            // MTA-STS: the MX host name, as a DNS name of the certificate (the CN only when it has none).
            return CertificateIdentity.hostedVerify(cn, sans, t.connectedName(), List.of(), null);
        }
        return t.mode().usesHostedIdentityRules()
                ? CertificateIdentity.hostedVerify(cn, sans, t.recipientDomain(), t.mxHosts(), t.routeHost())
                : CertificateIdentity.verify(cn, sans, t.connectedName(), t.recipientDomain());
    }
}
