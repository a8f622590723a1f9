package io.tlsgate.policy.destination;

import io.tlsgate.core.dns.DomainName;
import io.tlsgate.core.tls.OutboundTlsMode;
import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;

/**
 * Reads destination controls from the {@code policy} schema and resolves the effective
 * settings for a recipient domain: the exact-domain entry's fields, each one that is unset
 * taken from {@code default}.
 *
 * <p>TODO(issue 4): suffix and IP/CIDR entries, CRUD, import/export; until then only exact
 * domains and {@code default} exist, which is all the schema can hold today.
 */
@ApplicationScoped
public class DestinationControls {

    static final String DEFAULT_KEY = "default";

    private final DataSource dataSource;

    DestinationControls(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * The effective policy for a recipient domain.
     *
     * @throws IllegalArgumentException when the domain is not a valid domain name
     */
    public OutboundPolicy resolve(String domain) {
        String key = DomainName.normalise(domain);
        String sql = """
                select d.tls, coalesce(e.tls, d.tls) as eff_tls, e.tls is not null as tls_from_entry,
                       coalesce(e.max_concurrent_connections, d.max_concurrent_connections) as max_conc,
                       coalesce(e.max_messages_per_connection, d.max_messages_per_connection) as max_msgs,
                       coalesce(e.bounce_profile, d.bounce_profile) as bounce_profile
                  from destination_control d
                  left join destination_control e on e.key = ?
                 where d.key = ?""";
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, key);
            ps.setString(2, DEFAULT_KEY);
            try (ResultSet r = ps.executeQuery()) {
                if (!r.next()) {
                    throw new IllegalStateException("the 'default' destination control is missing");
                }
                return new OutboundPolicy(key,
                        OutboundTlsMode.valueOf(r.getString("eff_tls")),
                        r.getBoolean("tls_from_entry") ? key : DEFAULT_KEY,
                        r.getInt("max_conc"),
                        r.getInt("max_msgs"),
                        r.getString("bounce_profile"));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read destination controls", e);
        }
    }
}
