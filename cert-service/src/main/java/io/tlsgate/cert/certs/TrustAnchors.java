package io.tlsgate.cert.certs;

import io.tlsgate.cert.trust.TrustedCas;
import io.tlsgate.platform.tls.Pem;
import jakarta.enterprise.context.ApplicationScoped;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** The CAs an uploaded chain may end at: the JDK's system bundle plus the operator's trusted CAs. */
@ApplicationScoped
public class TrustAnchors {

    private final TrustedCas trusted;
    private volatile List<X509Certificate> system;

    TrustAnchors(TrustedCas trusted) {
        this.trusted = trusted;
    }

    public List<X509Certificate> anchors() {
        List<X509Certificate> out = new ArrayList<>(system());
        for (var ca : trusted.snapshot().cas()) {
            try {
                out.addAll(Pem.certificates(ca.pem()));
            } catch (CertificateException e) {
                throw new IllegalStateException("stored trusted CA " + ca.id() + " does not parse", e);
            }
        }
        return out;
    }

    private List<X509Certificate> system() {
        if (system == null) {
            try {
                TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                f.init((KeyStore) null);
                List<X509Certificate> cas = new ArrayList<>();
                for (TrustManager tm : f.getTrustManagers()) {
                    if (tm instanceof X509TrustManager x) {
                        cas.addAll(Arrays.asList(x.getAcceptedIssuers()));
                    }
                }
                system = List.copyOf(cas);
            } catch (Exception e) {
                throw new IllegalStateException("cannot read the system trust store", e);
            }
        }
        return system;
    }
}
