package io.tlsgate.delivery.sts;

import io.tlsgate.core.sts.MtaStsPolicy;
import io.tlsgate.platform.db.Jdbc;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;
import javax.sql.DataSource;

/** MTA-STS policies in PostgreSQL (table {@code mta_sts_policy}), shared by every delivery replica. */
final class PolicyCache {

    /** A cached policy: its id, the policy, and when it was fetched, expires and was last checked. */
    record Entry(String id, MtaStsPolicy policy, Instant fetchedAt, Instant expiresAt, Instant checkedAt) {

        boolean expired(Instant now) {
            return !now.isBefore(expiresAt);
        }
    }

    private final DataSource dataSource;

    PolicyCache(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    Optional<Entry> get(String domain) {
        return Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("select policy_id, mode, mx, max_age_seconds, fetched_at, expires_at, "
                    + "checked_at from mta_sts_policy where domain = ?")) {
                ps.setString(1, domain);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.empty();
                    }
                    String mx = rs.getString(3);
                    MtaStsPolicy policy = new MtaStsPolicy(MtaStsPolicy.Mode.valueOf(rs.getString(2).toUpperCase(java.util.Locale.ROOT)),
                            mx.isEmpty() ? java.util.List.of() : Arrays.asList(mx.split("\n")), rs.getLong(4));
                    return Optional.of(new Entry(rs.getString(1), policy, rs.getTimestamp(5).toInstant(),
                            rs.getTimestamp(6).toInstant(), rs.getTimestamp(7).toInstant()));
                }
            }
        });
    }

    /** Stores a policy just fetched (replacing the domain's earlier one). */
    Entry put(String domain, String id, MtaStsPolicy policy, Instant now) {
        Entry e = new Entry(id, policy, now, now.plusSeconds(policy.maxAgeSeconds()), now);
        Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("insert into mta_sts_policy (domain, policy_id, mode, mx, max_age_seconds, "
                    + "fetched_at, expires_at, checked_at) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (domain) do update set "
                    + "policy_id = excluded.policy_id, mode = excluded.mode, mx = excluded.mx, "
                    + "max_age_seconds = excluded.max_age_seconds, fetched_at = excluded.fetched_at, "
                    + "expires_at = excluded.expires_at, checked_at = excluded.checked_at "
                    // another replica's fetch that finished later but started earlier does not win
                    + "where excluded.fetched_at >= mta_sts_policy.fetched_at")) {
                ps.setString(1, domain);
                ps.setString(2, id);
                ps.setString(3, policy.mode().wire());
                ps.setString(4, String.join("\n", policy.mx()));
                ps.setLong(5, policy.maxAgeSeconds());
                ps.setTimestamp(6, Timestamp.from(e.fetchedAt()));
                ps.setTimestamp(7, Timestamp.from(e.expiresAt()));
                ps.setTimestamp(8, Timestamp.from(e.checkedAt()));
                ps.executeUpdate();
            }
            return null;
        });
        return e;
    }

    /** Records that the domain's TXT record was looked at now (and still names the cached policy). */
    Entry checked(String domain, Entry e, Instant now) {
        Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("update mta_sts_policy set checked_at = ? where domain = ?")) {
                ps.setTimestamp(1, Timestamp.from(now));
                ps.setString(2, domain);
                ps.executeUpdate();
            }
            return null;
        });
        return new Entry(e.id(), e.policy(), e.fetchedAt(), e.expiresAt(), now);
    }

    /**
     * Domains whose cached policy is due to be fetched again ({@code refreshBefore} ahead of its
     * expiry, never before half its max_age), most urgent first, at most {@code limit}.
     */
    java.util.List<String> due(java.time.Duration refreshBefore, int limit) {
        return Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("select domain from mta_sts_policy where expires_at > now() and "
                    + "expires_at - least(? * interval '1 second', max_age_seconds / 2 * interval '1 second') <= now() "
                    + "order by expires_at limit ?")) {
                ps.setLong(1, refreshBefore.toSeconds());
                ps.setInt(2, limit);
                java.util.List<String> out = new java.util.ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(rs.getString(1));
                    }
                }
                return out;
            }
        });
    }

    /** Forgets a domain's expired policy (not one another replica has just fetched again). */
    void delete(String domain) {
        Jdbc.transaction(dataSource, c -> {
            try (PreparedStatement ps = c.prepareStatement("delete from mta_sts_policy where domain = ? and expires_at <= now()")) {
                ps.setString(1, domain);
                ps.executeUpdate();
            }
            return null;
        });
    }
}
