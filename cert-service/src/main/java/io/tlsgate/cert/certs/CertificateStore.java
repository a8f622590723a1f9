package io.tlsgate.cert.certs;

import io.tlsgate.platform.tls.Pem;
import io.tlsgate.cert.keys.KeyVault;
import jakarta.enterprise.context.ApplicationScoped;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** SQL for certificates and assignments in the {@code cert} schema. No validation here. */
@ApplicationScoped
public class CertificateStore {

    private static final String COLUMNS = "name, key_type, key_ciphertext, key_nonce, data_key_wrapped, data_key_nonce, "
            + "master_key_id, chain_pem, csr_pem, demo, created_at, updated_at, created_by";

    public List<StoredCertificate> all(Connection c) throws SQLException {
        List<StoredCertificate> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from certificate order by name");
                ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                out.add(row(r));
            }
        }
        return out;
    }

    public Optional<StoredCertificate> find(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from certificate where name = ?")) {
            ps.setString(1, name);
            try (ResultSet r = ps.executeQuery()) {
                return r.next() ? Optional.of(row(r)) : Optional.empty();
            }
        }
    }

    /** Inserts; false when the name exists. */
    public boolean insert(Connection c, StoredCertificate s) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("insert into certificate (" + COLUMNS + ") "
                + "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), now(), ?) on conflict (name) do nothing")) {
            ps.setString(1, s.name());
            ps.setString(2, s.keyType().name());
            ps.setBytes(3, s.sealedKey().ciphertext());
            ps.setBytes(4, s.sealedKey().nonce());
            ps.setBytes(5, s.sealedKey().wrappedDataKey());
            ps.setBytes(6, s.sealedKey().dataKeyNonce());
            ps.setString(7, s.sealedKey().masterKeyId());
            ps.setString(8, chainPem(s.chain()));
            ps.setString(9, s.csrPem());
            ps.setBoolean(10, s.demo());
            ps.setString(11, s.createdBy());
            return ps.executeUpdate() == 1;
        }
    }

    /** Replaces the chain (an uploaded CA-signed certificate). */
    public void updateChain(Connection c, String name, List<X509Certificate> chain) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "update certificate set chain_pem = ?, updated_at = now() where name = ?")) {
            ps.setString(1, chainPem(chain));
            ps.setString(2, name);
            ps.executeUpdate();
        }
    }

    /** Names and sealed keys of certificates whose key is sealed under another master key than {@code masterKeyId}, at most {@code limit}. */
    public Map<String, KeyVault.Sealed> sealedUnderOtherThan(Connection c, String masterKeyId, int limit) throws SQLException {
        Map<String, KeyVault.Sealed> out = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("select name, key_ciphertext, key_nonce, data_key_wrapped, data_key_nonce, "
                + "master_key_id from certificate where master_key_id <> ? order by name limit ?")) {
            ps.setString(1, masterKeyId);
            ps.setInt(2, limit);
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    out.put(r.getString("name"), sealed(r));
                }
            }
        }
        return out;
    }

    /** How many keys are sealed under another master key than {@code masterKeyId}. */
    public int countSealedUnderOtherThan(Connection c, String masterKeyId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select count(*) from certificate where master_key_id <> ?")) {
            ps.setString(1, masterKeyId);
            try (ResultSet r = ps.executeQuery()) {
                r.next();
                return r.getInt(1);
            }
        }
    }

    /** Replaces the sealing of {@code name}'s data key, if it is still {@code from}'s (another replica may have done it). */
    public boolean rewrap(Connection c, String name, KeyVault.Sealed from, KeyVault.Sealed to) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("update certificate set data_key_wrapped = ?, data_key_nonce = ?, "
                + "master_key_id = ? where name = ? and master_key_id = ? and data_key_wrapped = ?")) {
            ps.setBytes(1, to.wrappedDataKey());
            ps.setBytes(2, to.dataKeyNonce());
            ps.setString(3, to.masterKeyId());
            ps.setString(4, name);
            ps.setString(5, from.masterKeyId());
            ps.setBytes(6, from.wrappedDataKey());
            return ps.executeUpdate() == 1;
        }
    }

    public boolean delete(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("delete from certificate where name = ?")) {
            ps.setString(1, name);
            return ps.executeUpdate() == 1;
        }
    }

    /** Slot to certificate name, for every assigned slot. */
    public Map<String, String> assignments(Connection c) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("select slot, certificate from assignment order by slot");
                ResultSet r = ps.executeQuery()) {
            while (r.next()) {
                out.put(r.getString(1), r.getString(2));
            }
        }
        return out;
    }

    public void assign(Connection c, String slot, String certificate, String principal) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("insert into assignment (slot, certificate, assigned_by) "
                + "values (?, ?, ?) on conflict (slot) do update set certificate = excluded.certificate, "
                + "assigned_at = now(), assigned_by = excluded.assigned_by")) {
            ps.setString(1, slot);
            ps.setString(2, certificate);
            ps.setString(3, principal);
            ps.executeUpdate();
        }
    }

    public boolean unassign(Connection c, String slot) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("delete from assignment where slot = ?")) {
            ps.setString(1, slot);
            return ps.executeUpdate() == 1;
        }
    }

    static String chainPem(List<X509Certificate> chain) {
        StringBuilder b = new StringBuilder();
        chain.forEach(x -> b.append(Pem.of(x)));
        return b.toString();
    }

    private static StoredCertificate row(ResultSet r) throws SQLException {
        List<X509Certificate> chain;
        try {
            chain = Pem.certificates(r.getString("chain_pem"));
        } catch (CertificateException e) {
            throw new SQLException("stored chain of " + r.getString("name") + " does not parse", e);
        }
        return new StoredCertificate(r.getString("name"), KeyType.valueOf(r.getString("key_type")), sealed(r), chain,
                r.getString("csr_pem"), r.getBoolean("demo"), r.getTimestamp("created_at").toInstant(),
                r.getTimestamp("updated_at").toInstant(), r.getString("created_by"));
    }

    private static KeyVault.Sealed sealed(ResultSet r) throws SQLException {
        return new KeyVault.Sealed(r.getBytes("key_ciphertext"), r.getBytes("key_nonce"), r.getBytes("data_key_wrapped"),
                r.getBytes("data_key_nonce"), r.getString("master_key_id"));
    }
}
