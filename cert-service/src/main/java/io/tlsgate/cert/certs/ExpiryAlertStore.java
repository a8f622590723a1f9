package io.tlsgate.cert.certs;

import jakarta.enterprise.context.ApplicationScoped;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.LocalDate;

/** SQL for {@code expiry_alert}: which certificate was alerted on which UTC day, by any replica. */
@ApplicationScoped
public class ExpiryAlertStore {

    /** Claims the alert of {@code certificate} for {@code day}; false when it was claimed already. */
    public boolean claim(Connection c, String certificate, LocalDate day) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "insert into expiry_alert (certificate, day) values (?, ?) on conflict do nothing")) {
            ps.setString(1, certificate);
            ps.setObject(2, day);
            return ps.executeUpdate() == 1;
        }
    }
}
