package io.tlsgate.policy.sts;

import io.tlsgate.core.sts.MtaStsPolicy;
import io.tlsgate.platform.problem.ProblemException;
import io.tlsgate.policy.change.PolicyTransactions;
import io.tlsgate.policy.web.ChangeContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** The MTA-STS policies published for our own domains (table {@code mta_sts_hosted}); every change audited. */
@ApplicationScoped
public class HostedPolicies {

    static final String ENTITY = "mta-sts-policy:";
    /** Policy ids: the time of the change to the millisecond (RFC 8461: 1 to 32 letters and digits). */
    private static final DateTimeFormatter ID = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmssSSS").withZone(ZoneOffset.UTC);

    private final PolicyTransactions tx;

    HostedPolicies(PolicyTransactions tx) {
        this.tx = tx;
    }

    public List<HostedPolicy> all() {
        return tx.read((c, a) -> {
            List<HostedPolicy> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("select * from mta_sts_hosted order by domain");
                    ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    out.add(row(r));
                }
            }
            return out;
        });
    }

    /** The policy of {@code domain}, if one is published. */
    public Optional<HostedPolicy> find(String domain) {
        return tx.read((c, a) -> find(c, domain));
    }

    /** Publishes (or replaces) {@code domain}'s policy under a new id. */
    public HostedPolicy put(String domain, MtaStsPolicy policy, ChangeContext who) {
        return tx.change(who, (c, audit) -> {
            // One change per domain at a time, on every replica: the id must change with the content.
            try (PreparedStatement lock = c.prepareStatement("select pg_advisory_xact_lock(hashtext('mta-sts:' || ?))")) {
                lock.setString(1, domain);
                lock.execute();
            }
            Optional<HostedPolicy> before = find(c, domain);
            HostedPolicy same = before.map(b -> HostedPolicy.of(domain, policy, b.policyId(), b.updatedAt())).orElse(null);
            if (same != null && same.mode().equals(before.get().mode()) && same.mx().equals(before.get().mx())
                    && same.maxAgeSeconds() == before.get().maxAgeSeconds()) {
                // Nothing changed: the id stays (senders fetch the policy again only when it changes).
                return before.get();
            }
            Instant now = Instant.now();
            String id = ID.format(now);
            if (before.isPresent() && before.get().policyId().compareTo(id) >= 0) {
                id = ID.format(before.get().updatedAt().plusMillis(1)); // two changes within a millisecond
                now = before.get().updatedAt().plusMillis(1);
            }
            HostedPolicy after = HostedPolicy.of(domain, policy, id, now);
            try (PreparedStatement ps = c.prepareStatement("insert into mta_sts_hosted (domain, mode, mx, max_age_seconds, "
                    + "policy_id, updated_at) values (?, ?, ?, ?, ?, ?) on conflict (domain) do update set mode = excluded.mode, "
                    + "mx = excluded.mx, max_age_seconds = excluded.max_age_seconds, policy_id = excluded.policy_id, "
                    + "updated_at = excluded.updated_at")) {
                ps.setString(1, domain);
                ps.setString(2, after.mode());
                ps.setString(3, String.join("\n", after.mx()));
                ps.setLong(4, after.maxAgeSeconds());
                ps.setString(5, after.policyId());
                ps.setTimestamp(6, Timestamp.from(now));
                ps.executeUpdate();
            }
            audit.record(before.isPresent() ? "update" : "create", ENTITY + domain, before.orElse(null), after);
            return after;
        });
    }

    /** Stops publishing {@code domain}'s policy; 404 when there is none. */
    public void delete(String domain, ChangeContext who) {
        tx.change(who, (c, audit) -> {
            HostedPolicy before = find(c, domain).orElseThrow(() -> ProblemException.notFound("no MTA-STS policy for '" + domain + "'"));
            try (PreparedStatement ps = c.prepareStatement("delete from mta_sts_hosted where domain = ?")) {
                ps.setString(1, domain);
                ps.executeUpdate();
            }
            audit.record("delete", ENTITY + domain, before, null);
            return null;
        });
    }

    private static Optional<HostedPolicy> find(Connection c, String domain) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select * from mta_sts_hosted where domain = ?")) {
            ps.setString(1, domain);
            try (ResultSet r = ps.executeQuery()) {
                return r.next() ? Optional.of(row(r)) : Optional.empty();
            }
        }
    }

    private static HostedPolicy row(ResultSet r) throws SQLException {
        String mx = r.getString("mx");
        return new HostedPolicy(r.getString("domain"), r.getString("mode"), mx.isEmpty() ? List.of() : Arrays.asList(mx.split("\n")),
                r.getLong("max_age_seconds"), r.getString("policy_id"), r.getTimestamp("updated_at").toInstant());
    }
}
