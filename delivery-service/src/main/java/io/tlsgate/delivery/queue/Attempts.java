package io.tlsgate.delivery.queue;

import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;

/** Delivery connections per message, with their TLS facts (GET /api/v1/messages/{mid}). */
@ApplicationScoped
public class Attempts {

    /** One connection made for some recipients of a message (dcid 0 and no host when none could be made). */
    public record Attempt(long dcid, Instant at, List<Integer> rids, String domain, String host, String ip, Integer port,
            Tls tls, String outcome, String reply) {}

    /** The connection's TLS facts. */
    public record Tls(String mode, String modeSource, String result, String protocol, String cipher, String verification,
            String failure) {}

    private final DataSource dataSource;

    Attempts(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** A DCID, unique across replicas. */
    public long nextDcid() {
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("select nextval('dcid_seq')");
                ResultSet r = ps.executeQuery()) {
            r.next();
            return r.getLong(1);
        } catch (SQLException e) {
            throw new QueueUnavailableException("could not number a delivery connection", e);
        }
    }

    /** Inserts attempts (message, attempt) on {@code c}, in one batch, within the caller's transaction if any. */
    static void insert(Connection c, List<Map.Entry<Long, Attempt>> rows) throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("insert into attempt (mid, rids, dcid, domain, host, ip, port, "
                + "tls_mode, tls_mode_source, tls_result, tls_protocol, tls_cipher, tls_verification, tls_failure, "
                + "outcome, reply) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (Map.Entry<Long, Attempt> row : rows) {
                Attempt a = row.getValue();
                ps.setLong(1, row.getKey());
                ps.setArray(2, c.createArrayOf("integer", a.rids().toArray()));
                ps.setLong(3, a.dcid());
                ps.setString(4, a.domain());
                ps.setString(5, a.host());
                ps.setString(6, a.ip());
                if (a.port() == null) {
                    ps.setNull(7, Types.INTEGER);
                } else {
                    ps.setInt(7, a.port());
                }
                Tls t = a.tls();
                ps.setString(8, t.mode());
                ps.setString(9, t.modeSource());
                ps.setString(10, t.result());
                ps.setString(11, t.protocol());
                ps.setString(12, t.cipher());
                ps.setString(13, t.verification());
                ps.setString(14, t.failure());
                ps.setString(15, a.outcome());
                ps.setString(16, a.reply());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    public List<Attempt> of(long mid) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = c.prepareStatement("select dcid, at, rids, domain, host, ip, port, tls_mode, "
                        + "tls_mode_source, tls_result, tls_protocol, tls_cipher, tls_verification, tls_failure, outcome, reply "
                        + "from attempt where mid = ? order by id")) {
            ps.setLong(1, mid);
            List<Attempt> out = new ArrayList<>();
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    Integer port = r.getObject(7) == null ? null : r.getInt(7);
                    out.add(new Attempt(r.getLong(1), r.getTimestamp(2).toInstant(),
                            Arrays.asList((Integer[]) r.getArray(3).getArray()), r.getString(4), r.getString(5),
                            r.getString(6), port, new Tls(r.getString(8), r.getString(9), r.getString(10), r.getString(11),
                                    r.getString(12), r.getString(13), r.getString(14)), r.getString(15), r.getString(16)));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new QueueUnavailableException("could not read delivery attempts", e);
        }
    }
}
