package io.tlsgate.policy.settings;

import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.json.JsonFields;
import io.tlsgate.policy.web.RequestSupport;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
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

    private final OutboundSettingsService settings;
    private final RequestSupport request;

    OutboundSettingsResource(OutboundSettingsService settings, RequestSupport request) {
        this.settings = settings;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Global outbound settings")
    public OutboundSettings get() {
        return settings.get();
    }

    @PUT
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Change global outbound settings (fields left out keep their value; admin only)")
    public OutboundSettings put(String body, @HeaderParam(RequestSupport.COMMENT_HEADER) String comment) {
        JsonFields f = JsonFields.of(request.body(body), Set.of("alertOnRequiredTlsFailure", "certificateSlot", "trustedCaMode"));
        Boolean alert = f.bool("alertOnRequiredTlsFailure");
        String slot = f.string("certificateSlot", SLOT, "a certificate slot name such as 'outbound'");
        OutboundSettings.TrustedCaMode mode = f.enumValue("trustedCaMode", OutboundSettings.TrustedCaMode.class);
        f.check();
        return settings.update(alert, slot, mode, request.change(comment));
    }
}
