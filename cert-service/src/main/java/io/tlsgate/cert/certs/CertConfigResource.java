package io.tlsgate.cert.certs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tlsgate.cert.web.RequestSupport;
import io.tlsgate.platform.auth.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: cert-service's assignments and trusted CAs by reference, exported and imported all or nothing (docs/certificates.md). */
@Path("/api/v1/config")
@Produces(MediaType.APPLICATION_JSON)
public class CertConfigResource {

    private static final int MAX_BODY = 4 * 1024 * 1024;

    private final ConfigTransfer transfer;
    private final RequestSupport request;

    CertConfigResource(ConfigTransfer transfer, RequestSupport request) {
        this.transfer = transfer;
        this.request = request;
    }

    @GET
    @Path("/export")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Slot assignments (certificate name and SHA-256) and trusted CAs (subject and SHA-256); no key, no certificate")
    public ObjectNode export() {
        return transfer.export();
    }

    @POST
    @Path("/import")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Make the assignments and the trusted CAs what the document says, all or nothing; every reference "
            + "must resolve here; validateOnly=true changes nothing")
    public ConfigTransfer.Result importConfig(String body, @QueryParam("validateOnly") boolean validateOnly) {
        JsonNode doc = request.json(body, MAX_BODY);
        return transfer.importConfig(doc, validateOnly, request.principal());
    }
}
