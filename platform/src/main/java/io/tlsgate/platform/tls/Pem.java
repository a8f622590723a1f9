package io.tlsgate.platform.tls;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** The one reader and writer of PEM certificates (RFC 7468) in tlsgate. */
public final class Pem {

    private Pem() {}

    /**
     * Every certificate in a PEM text, in order (text around the blocks is ignored; empty text
     * holds none).
     *
     * @throws CertificateException when a block is not an X.509 certificate, or there is text but no block
     */
    public static List<X509Certificate> certificates(String pem) throws CertificateException {
        List<X509Certificate> out = new ArrayList<>();
        for (Certificate c : CertificateFactory.getInstance("X.509")
                .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
            out.add((X509Certificate) c);
        }
        return out;
    }

    /** A certificate as one PEM block (64 base64 characters a line, a newline at the end). */
    public static String of(X509Certificate certificate) {
        try {
            return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(certificate.getEncoded())
                    + "\n-----END CERTIFICATE-----\n";
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }
}
