package io.tlsgate.policy.destination;

import io.tlsgate.core.destination.DestinationKey;
import io.tlsgate.core.destination.DestinationSettings;
import io.tlsgate.core.destination.IpPreference;
import io.tlsgate.core.destination.LimitsApplyPer;
import io.tlsgate.core.destination.LimitsScope;
import io.tlsgate.core.destination.RecipientLimit;
import io.tlsgate.core.tls.OutboundTlsMode;
import io.tlsgate.policy.bounce.BounceProfileUsers;
import io.tlsgate.policy.resolve.DestinationTable;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * SQL for the {@code destination} table. Every method works in the caller's connection (and
 * transaction); the table's triggers bump the policy version and NOTIFY the other replicas.
 */
@ApplicationScoped
public class DestinationStore implements DestinationTable, BounceProfileUsers {

    private static final String COLUMNS = "key, tls, max_concurrent_connections, max_messages_per_connection, "
            + "recipient_limited, recipient_limit, recipient_minutes, limits_apply_per, limits_scope, ip_preference, "
            + "bounce_verification, bounce_profile, ignore_mta_sts, ignore_dane";

    /** Every entry, default first, then by key. */
    @Override
    public Map<DestinationKey, DestinationSettings> loadAll(Connection c) throws SQLException {
        Map<DestinationKey, DestinationSettings> out = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement(
                "select " + COLUMNS + " from destination order by key <> 'default', key");
                ResultSet r = ps.executeQuery()) {
            r.setFetchSize(10_000);
            while (r.next()) {
                out.put(DestinationKey.parse(r.getString("key")), settings(r));
            }
        }
        return out;
    }

    public Optional<DestinationSettings> find(Connection c, DestinationKey key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from destination where key = ?")) {
            ps.setString(1, key.text());
            try (ResultSet r = ps.executeQuery()) {
                return r.next() ? Optional.of(settings(r)) : Optional.empty();
            }
        }
    }

    /** Inserts; false when the key exists already. */
    public boolean insert(Connection c, DestinationKey key, DestinationSettings s) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("insert into destination (kind, " + COLUMNS + ") "
                + "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (key) do nothing")) {
            ps.setString(1, key.kind().name());
            bind(ps, 2, key, s);
            return ps.executeUpdate() == 1;
        }
    }

    /** Inserts many entries in one batch (import); the keys must be new. */
    public void insertAll(Connection c, Map<DestinationKey, DestinationSettings> entries) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("insert into destination (kind, " + COLUMNS + ") "
                + "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            int n = 0;
            for (Map.Entry<DestinationKey, DestinationSettings> e : entries.entrySet()) {
                ps.setString(1, e.getKey().kind().name());
                bind(ps, 2, e.getKey(), e.getValue());
                ps.addBatch();
                if (++n % 1000 == 0) {
                    ps.executeBatch();
                }
            }
            ps.executeBatch();
        }
    }

    /** Replaces every field; false when there is no such entry. */
    public boolean update(Connection c, DestinationKey key, DestinationSettings s) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("update destination set tls = ?, max_concurrent_connections = ?, "
                + "max_messages_per_connection = ?, recipient_limited = ?, recipient_limit = ?, recipient_minutes = ?, "
                + "limits_apply_per = ?, limits_scope = ?, ip_preference = ?, bounce_verification = ?, bounce_profile = ?, "
                + "ignore_mta_sts = ?, ignore_dane = ?, updated_at = now() where key = ?")) {
            int i = bindFields(ps, 1, s);
            ps.setString(i, key.text());
            return ps.executeUpdate() == 1;
        }
    }

    /** Deletes one entry (never {@code default}); false when there was none. */
    public boolean delete(Connection c, DestinationKey key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("delete from destination where key = ? and key <> 'default'")) {
            ps.setString(1, key.text());
            return ps.executeUpdate() == 1;
        }
    }

    /** Deletes every entry but {@code default}; returns how many. */
    public int deleteAllButDefault(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("delete from destination where key <> 'default'")) {
            return ps.executeUpdate();
        }
    }

    /** How many entries name this bounce profile. */
    @Override
    public int countUsingProfile(Connection c, String profile) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select count(*) from destination where bounce_profile = ?")) {
            ps.setString(1, profile);
            try (ResultSet r = ps.executeQuery()) {
                r.next();
                return r.getInt(1);
            }
        }
    }

    private static void bind(PreparedStatement ps, int first, DestinationKey key, DestinationSettings s)
            throws SQLException {
        ps.setString(first, key.text());
        bindFields(ps, first + 1, s);
    }

    private static int bindFields(PreparedStatement ps, int i, DestinationSettings s) throws SQLException {
        setEnum(ps, i++, s.tls());
        setInt(ps, i++, s.maxConcurrentConnections());
        setInt(ps, i++, s.maxMessagesPerConnection());
        RecipientLimit rl = s.recipientLimit();
        if (rl == null) {
            ps.setNull(i++, Types.BOOLEAN);
        } else {
            ps.setBoolean(i++, rl.limited());
        }
        setInt(ps, i++, rl != null && rl.limited() ? rl.recipients() : null);
        setInt(ps, i++, rl != null && rl.limited() ? rl.perMinutes() : null);
        setEnum(ps, i++, s.limitsApplyPer());
        setEnum(ps, i++, s.limitsScope());
        setEnum(ps, i++, s.ipPreference());
        if (s.bounceVerification() == null) {
            ps.setNull(i++, Types.BOOLEAN);
        } else {
            ps.setBoolean(i++, s.bounceVerification());
        }
        ps.setString(i++, s.bounceProfile());
        if (s.ignoreMtaSts() == null) {
            ps.setNull(i++, Types.BOOLEAN);
        } else {
            ps.setBoolean(i++, s.ignoreMtaSts());
        }
        if (s.ignoreDane() == null) {
            ps.setNull(i++, Types.BOOLEAN);
        } else {
            ps.setBoolean(i++, s.ignoreDane());
        }
        return i;
    }

    private static DestinationSettings settings(ResultSet r) throws SQLException {
        Boolean limited = (Boolean) r.getObject("recipient_limited");
        RecipientLimit rl = limited == null ? null
                : limited ? RecipientLimit.of(r.getInt("recipient_limit"), r.getInt("recipient_minutes")) : RecipientLimit.NONE;
        return new DestinationSettings(
                enumOf(OutboundTlsMode.class, r.getString("tls")),
                (Integer) r.getObject("max_concurrent_connections"),
                (Integer) r.getObject("max_messages_per_connection"),
                rl,
                enumOf(LimitsApplyPer.class, r.getString("limits_apply_per")),
                enumOf(LimitsScope.class, r.getString("limits_scope")),
                enumOf(IpPreference.class, r.getString("ip_preference")),
                (Boolean) r.getObject("bounce_verification"),
                r.getString("bounce_profile"),
                (Boolean) r.getObject("ignore_mta_sts"),
                (Boolean) r.getObject("ignore_dane"));
    }

    private static <E extends Enum<E>> E enumOf(Class<E> type, String v) {
        return v == null ? null : Enum.valueOf(type, v);
    }

    private static void setEnum(PreparedStatement ps, int i, Enum<?> v) throws SQLException {
        ps.setString(i, v == null ? null : v.name());
    }

    private static void setInt(PreparedStatement ps, int i, Integer v) throws SQLException {
        if (v == null) {
            ps.setNull(i, Types.INTEGER);
        } else {
            ps.setInt(i, v);
        }
    }
}
