package io.tlsgate.cert.trust;

import io.tlsgate.cert.web.RequestSupport;
import io.tlsgate.platform.auth.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: the trusted CAs added on top of the system bundle; reading needs reader, changing admin. */
@Path("/api/v1/trusted-cas")
@Produces(MediaType.APPLICATION_JSON)
public class TrustedCaResource {

    private final TrustedCas cas;
    private final RequestSupport request;

    TrustedCaResource(TrustedCas cas, RequestSupport request) {
        this.cas = cas;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "The trusted CAs added by operators (the system bundle is trusted too)")
    public List<TrustedCa> list() {
        return cas.snapshot().cas();
    }

    @GET
    @Path("/{id}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One trusted CA")
    public TrustedCa get(@PathParam("id") UUID id) {
        return cas.get(id);
    }

    @POST
    @Consumes({"application/x-pem-file", MediaType.TEXT_PLAIN})
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Trust one more CA: the body is one PEM CA certificate (admin only)")
    public Response add(String pem) {
        TrustedCa added = cas.add(pem, request.principal());
        return RequestSupport.created("/api/v1/trusted-cas/" + added.id(), added);
    }

    @DELETE
    @Path("/{id}")
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Stop trusting an added CA (admin only)")
    public Response delete(@PathParam("id") UUID id) {
        cas.remove(id, request.principal());
        return Response.noContent().build();
    }
}
