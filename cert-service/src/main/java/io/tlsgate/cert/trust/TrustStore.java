package io.tlsgate.cert.trust;

import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * SQL for the operator-added trusted CAs and for the cert revision ({@code trust_revision},
 * bumped by a trigger on every change to certificates, assignments and trusted CAs:
 * V2__certificates.sql). Every method works in the caller's transaction. No validation here.
 */
@ApplicationScoped
public class TrustStore {

    /** The query for the cert revision (also what the change listener polls). */
    public static final String REVISION = "select revision from trust_revision where id = 1";

    /** Inserts a CA; empty when one with the same fingerprint is trusted already. */
    public Optional<TrustedCa> insert(Connection c, String subject, String fingerprint, Instant notAfter, String pem,
            String principal) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "insert into trusted_ca (subject, fingerprint_sha256, not_after, pem, added_by) values (?, ?, ?, ?, ?) "
                        + "on conflict (fingerprint_sha256) do nothing returning id, added_at")) {
            ps.setString(1, subject);
            ps.setString(2, fingerprint);
            ps.setTimestamp(3, Timestamp.from(notAfter));
            ps.setString(4, pem);
            ps.setString(5, principal);
            try (ResultSet r = ps.executeQuery()) {
                return r.next() ? Optional.of(new TrustedCa(r.getObject("id", UUID.class), subject, fingerprint, notAfter,
                        pem, r.getTimestamp("added_at").toInstant(), principal)) : Optional.empty();
            }
        }
    }

    /** Deletes a CA; false when there is none with that id. */
    public boolean delete(Connection c, UUID id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("delete from trusted_ca where id = ?")) {
            ps.setObject(1, id);
            return ps.executeUpdate() == 1;
        }
    }

    /** Every trusted CA, oldest first. */
    public List<TrustedCa> all(Connection c) throws SQLException {
        List<TrustedCa> cas = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "select id, subject, fingerprint_sha256, not_after, pem, added_at, added_by from trusted_ca order by added_at, id");
                ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                cas.add(new TrustedCa(r.getObject("id", UUID.class), r.getString("subject"),
                        r.getString("fingerprint_sha256"), r.getTimestamp("not_after").toInstant(),
                        r.getString("pem"), r.getTimestamp("added_at").toInstant(), r.getString("added_by")));
            }
        }
        return cas;
    }

    /** The cert revision as of {@code c}'s transaction. */
    public long revision(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(REVISION); ResultSet r = ps.executeQuery()) {
            r.next();
            return r.getLong(1);
        }
    }
}
