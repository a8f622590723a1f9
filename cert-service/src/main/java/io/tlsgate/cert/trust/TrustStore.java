package io.tlsgate.cert.trust;

import io.tlsgate.platform.tls.Pem;
import jakarta.enterprise.context.ApplicationScoped;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The operator-added trusted CAs in the {@code cert} schema. {@link #add} accepts exactly one
 * PEM CA certificate (basic constraints CA=true) and refuses anything else with a reason;
 * every change bumps the revision in the same transaction (a trigger).
 *
 * <p>Security-sensitive: a CA added here is trusted for verifying every peer.
 */
@ApplicationScoped
public class TrustStore {

    /** The trusted CAs and the revision they belong to. */
    public record Snapshot(List<TrustedCa> cas, long revision) {}

    private final DataSource dataSource;

    TrustStore(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Adds a CA certificate.
     *
     * @throws IllegalArgumentException when the PEM is not exactly one CA certificate, or is already trusted
     */
    public TrustedCa add(String pem, String principal) {
        X509Certificate cert = parseSingleCa(pem);
        String fingerprint = fingerprint(cert);
        String canonicalPem = Pem.of(cert);
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement(
                    "insert into trusted_ca (subject, fingerprint_sha256, not_after, pem, added_by) values (?, ?, ?, ?, ?) "
                            + "on conflict (fingerprint_sha256) do nothing returning id, added_at")) {
                ps.setString(1, cert.getSubjectX500Principal().getName());
                ps.setString(2, fingerprint);
                ps.setTimestamp(3, Timestamp.from(cert.getNotAfter().toInstant()));
                ps.setString(4, canonicalPem);
                ps.setString(5, principal);
                try (ResultSet r = ps.executeQuery()) {
                    if (!r.next()) {
                        c.rollback();
                        throw new IllegalArgumentException("this CA is already trusted (SHA-256 " + fingerprint + ")");
                    }
                    // The revision is bumped by the trusted_ca_changed trigger (V2__certificates.sql).
                    c.commit();
                    return new TrustedCa(r.getObject("id", UUID.class), cert.getSubjectX500Principal().getName(),
                            fingerprint, cert.getNotAfter().toInstant(), canonicalPem,
                            r.getTimestamp("added_at").toInstant(), principal);
                }
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not store the trusted CA", e);
        }
    }

    /** Removes a trusted CA; false when there is none with that id. */
    public boolean remove(UUID id) {
        return io.tlsgate.platform.db.Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("delete from trusted_ca where id = ?")) {
                ps.setObject(1, id);
                return ps.executeUpdate() == 1;
            }
        });
    }

    /** Every trusted CA, oldest first, with the current revision (one consistent read). */
    public Snapshot snapshot() {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            List<TrustedCa> cas = new ArrayList<>();
            long revision;
            try (PreparedStatement ps = c.prepareStatement(
                    "select id, subject, fingerprint_sha256, not_after, pem, added_at, added_by from trusted_ca order by added_at, id");
                    ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    cas.add(new TrustedCa(r.getObject("id", UUID.class), r.getString("subject"),
                            r.getString("fingerprint_sha256"), r.getTimestamp("not_after").toInstant(),
                            r.getString("pem"), r.getTimestamp("added_at").toInstant(), r.getString("added_by")));
                }
            }
            try (PreparedStatement ps = c.prepareStatement("select revision from trust_revision where id = 1");
                    ResultSet r = ps.executeQuery()) {
                r.next();
                revision = r.getLong(1);
            }
            c.commit();
            return new Snapshot(cas, revision);
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the trust store", e);
        }
    }

    static X509Certificate parseSingleCa(String pem) {
        if (pem == null || pem.isBlank()) {
            throw new IllegalArgumentException("no certificate given");
        }
        Collection<? extends java.security.cert.Certificate> certs;
        try {
            certs = Pem.certificates(pem);
        } catch (CertificateException e) {
            throw new IllegalArgumentException("not a PEM X.509 certificate: " + e.getMessage());
        }
        if (certs.size() != 1) {
            throw new IllegalArgumentException("expected exactly one certificate, found " + certs.size());
        }
        X509Certificate cert = (X509Certificate) certs.iterator().next();
        if (cert.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("not a CA certificate (basic constraints CA is not true)");
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
