package io.tlsgate.policy.settings;

import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.json.JsonFields;
import io.tlsgate.policy.PolicyConfig;
import io.tlsgate.policy.PolicyTransactions;
import io.tlsgate.policy.RequestSupport;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Set;
import java.util.regex.Pattern;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * REST: global outbound settings; reading needs reader, changing admin. PUT changes the fields
 * it names and keeps the others.
 */
@Path("/api/v1/settings/outbound")
@Produces(MediaType.APPLICATION_JSON)
public class OutboundSettingsResource {

    /** Slot names as cert-service knows them: {@code outbound}, {@code listener:<name>}, ... */
    static final Pattern SLOT = Pattern.compile("[a-z][a-z0-9-]{0,31}(:[A-Za-z0-9._-]{1,64})?");

    private final PolicyTransactions tx;
    private final RequestSupport request;
    private final PolicyConfig config;

    OutboundSettingsResource(PolicyTransactions tx, RequestSupport request, PolicyConfig config) {
        this.tx = tx;
        this.request = request;
        this.config = config;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Global outbound settings")
    public OutboundSettings get() {
        return tx.read((c, a) -> read(c));
    }

    @PUT
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Change global outbound settings (fields left out keep their value; admin only)")
    public OutboundSettings put(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        JsonFields f = JsonFields.of(request.json(body, config.maxJsonBody()),
                Set.of("alertOnRequiredTlsFailure", "certificateSlot", "trustedCaMode"));
        Boolean alert = f.bool("alertOnRequiredTlsFailure");
        String slot = f.string("certificateSlot", SLOT, "a certificate slot name such as 'outbound'");
        OutboundSettings.TrustedCaMode mode = f.enumValue("trustedCaMode", OutboundSettings.TrustedCaMode.class);
        f.check();
        return tx.change(request.change(comment), (c, audit) -> {
            OutboundSettings before = read(c);
            OutboundSettings after = new OutboundSettings(alert != null ? alert : before.alertOnRequiredTlsFailure(),
                    slot != null ? slot : before.certificateSlot(), mode != null ? mode : before.trustedCaMode());
            try (PreparedStatement ps = c.prepareStatement("update outbound_settings set alert_on_required_tls_failure = ?, "
                    + "certificate_slot = ?, trusted_ca_mode = ? where id = 1")) {
                ps.setBoolean(1, after.alertOnRequiredTlsFailure());
                ps.setString(2, after.certificateSlot());
                ps.setString(3, after.trustedCaMode().name());
                ps.executeUpdate();
            }
            audit.record("update", "settings:outbound", before, after);
            return after;
        });
    }

    /** The settings as of {@code c}'s transaction. */
    public static OutboundSettings read(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select alert_on_required_tls_failure, certificate_slot, "
                + "trusted_ca_mode from outbound_settings where id = 1");
                ResultSet r = ps.executeQuery()) {
            r.next();
            return new OutboundSettings(r.getBoolean(1), r.getString(2),
                    OutboundSettings.TrustedCaMode.valueOf(r.getString(3)));
        }
    }
}
