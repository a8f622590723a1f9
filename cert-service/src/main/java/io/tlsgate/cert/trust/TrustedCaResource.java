package io.tlsgate.cert.trust;

import io.quarkus.security.identity.SecurityIdentity;
import io.tlsgate.cert.CertConfig;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.Problem;
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
import java.net.URI;
import java.util.List;
import java.util.UUID;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: the trusted CAs added on top of the system bundle; reading needs reader, changing admin. */
@Path("/api/v1/trusted-cas")
@Produces(MediaType.APPLICATION_JSON)
public class TrustedCaResource {

    private final TrustStore store;
    private final SecurityIdentity identity;
    private final CertConfig config;

    TrustedCaResource(TrustStore store, SecurityIdentity identity, CertConfig config) {
        this.store = store;
        this.identity = identity;
        this.config = config;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "The trusted CAs added by operators (the system bundle is trusted too)")
    public List<TrustedCa> list() {
        return store.snapshot().cas();
    }

    @GET
    @Path("/{id}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One trusted CA")
    public Response get(@PathParam("id") UUID id) {
        return store.snapshot().cas().stream().filter(ca -> ca.id().equals(id)).findFirst()
                .map(ca -> Response.ok(ca).build())
                .orElseGet(() -> Problem.of(Response.Status.NOT_FOUND, "no trusted CA with id " + id).toResponse());
    }

    @POST
    @Consumes({"application/x-pem-file", MediaType.TEXT_PLAIN})
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Trust one more CA: the body is one PEM CA certificate (admin only)")
    public Response add(String pem) {
        if (pem != null && pem.length() > config.maxPemSize()) {
            throw InvalidRequestException.field("pem", "larger than " + config.maxPemSize() + " bytes");
        }
        TrustedCa added;
        try {
            added = store.add(pem, identity.getPrincipal().getName());
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.field("pem", e.getMessage());
        }
        return Response.created(URI.create("/api/v1/trusted-cas/" + added.id())).entity(added).build();
    }

    @DELETE
    @Path("/{id}")
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Stop trusting an added CA (admin only)")
    public Response delete(@PathParam("id") UUID id) {
        if (!store.remove(id)) {
            return Problem.of(Response.Status.NOT_FOUND, "no trusted CA with id " + id).toResponse();
        }
        return Response.noContent().build();
    }
}
