package io.tlsgate.policy.settings;

import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * SQL for {@code outbound_settings} (one row). Works in the caller's transaction; the table's
 * trigger bumps the policy version.
 */
@ApplicationScoped
public class OutboundSettingsStore {

    /** The settings as of {@code c}'s transaction. */
    public OutboundSettings read(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select alert_on_required_tls_failure, certificate_slot, "
                + "trusted_ca_mode from outbound_settings where id = 1");
                ResultSet r = ps.executeQuery()) {
            r.next();
            return new OutboundSettings(r.getBoolean(1), r.getString(2),
                    OutboundSettings.TrustedCaMode.valueOf(r.getString(3)));
        }
    }

    public void update(Connection c, OutboundSettings s) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("update outbound_settings set alert_on_required_tls_failure = ?, "
                + "certificate_slot = ?, trusted_ca_mode = ? where id = 1")) {
            ps.setBoolean(1, s.alertOnRequiredTlsFailure());
            ps.setString(2, s.certificateSlot());
            ps.setString(3, s.trustedCaMode().name());
            ps.executeUpdate();
        }
    }
}
