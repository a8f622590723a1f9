package io.tlsgate.cert.trust;

import io.tlsgate.cert.CertConfig;
import io.tlsgate.platform.audit.AuditLog;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.platform.tls.Pem;
import jakarta.enterprise.context.ApplicationScoped;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The operator-added trusted CAs. {@link #add} accepts exactly one PEM CA certificate (basic
 * constraints CA=true) and refuses anything else with a reason (400 naming {@code pem}); every
 * change bumps the revision in the same transaction (a trigger).
 *
 * <p>Security-sensitive: a CA added here is trusted for verifying every peer.
 */
@ApplicationScoped
public class TrustedCas {

    /** The trusted CAs and the revision they belong to. */
    public record Snapshot(List<TrustedCa> cas, long revision) {}

    private final DataSource dataSource;
    private final TrustStore store;
    private final CertConfig config;
    private final AuditLog audit;

    TrustedCas(DataSource dataSource, TrustStore store, CertConfig config, AuditLog audit) {
        this.audit = audit;
        this.dataSource = dataSource;
        this.store = store;
        this.config = config;
    }

    /** Adds a CA certificate; 400 naming {@code pem} when it is too large, not exactly one CA certificate, or trusted already. */
    public TrustedCa add(String pem, String principal) {
        if (pem != null && pem.length() > config.maxPemSize()) {
            throw InvalidRequestException.field("pem", "larger than " + config.maxPemSize() + " bytes");
        }
        X509Certificate cert = parseSingleCa(pem);
        String fingerprint = fingerprint(cert);
        String subject = cert.getSubjectX500Principal().getName();
        // The revision is bumped by the trusted_ca_changed trigger (V2__certificates.sql), even by an insert
        // that adds no row: a CA trusted already is refused inside the transaction, so it rolls back.
        return Jdbc.transaction(dataSource, c -> {
            TrustedCa added = store.insert(c, subject, fingerprint, cert.getNotAfter().toInstant(), Pem.of(cert), principal)
                    .orElseThrow(() -> InvalidRequestException.field("pem", "this CA is already trusted (SHA-256 " + fingerprint + ")"));
            audit.record(c, principal, "create", "trusted-ca:" + added.id(), null, added);
            return added;
        });
    }

    /** Stops trusting a CA; 404 when there is none with that id. */
    public void remove(UUID id, String principal) {
        Jdbc.transaction(dataSource, c -> {
            TrustedCa before = store.all(c).stream().filter(ca -> ca.id().equals(id)).findFirst().orElseThrow(() -> notFound(id));
            store.delete(c, id);
            audit.record(c, principal, "delete", "trusted-ca:" + id, before, null);
            return null;
        });
    }

    /** One trusted CA; 404 when there is none with that id. */
    public TrustedCa get(UUID id) {
        return snapshot().cas().stream().filter(ca -> ca.id().equals(id)).findFirst().orElseThrow(() -> notFound(id));
    }

    /** Every trusted CA, oldest first, with the current revision (one consistent read). */
    public Snapshot snapshot() {
        return Jdbc.snapshot(dataSource, c -> {
            return new Snapshot(store.all(c), store.revision(c));
        });
    }

    private static ProblemException notFound(UUID id) {
        return ProblemException.notFound("no trusted CA with id " + id);
    }

    static X509Certificate parseSingleCa(String pem) {
        if (pem == null || pem.isBlank()) {
            throw InvalidRequestException.field("pem", "no certificate given");
        }
        Collection<? extends java.security.cert.Certificate> certs;
        try {
            certs = Pem.certificates(pem);
        } catch (CertificateException e) {
            throw InvalidRequestException.field("pem", "not a PEM X.509 certificate: " + e.getMessage());
        }
        if (certs.size() != 1) {
            throw InvalidRequestException.field("pem", "expected exactly one certificate, found " + certs.size());
        }
        X509Certificate cert = (X509Certificate) certs.iterator().next();
        if (cert.getBasicConstraints() < 0) {
            throw InvalidRequestException.field("pem", "not a CA certificate (basic constraints CA is not true)");
        }
        return cert;
    }

    private static String fingerprint(X509Certificate cert) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
