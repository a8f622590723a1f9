package io.tlsgate.listener.smtp;

import io.tlsgate.listener.upstream.CertClient;
import io.tlsgate.platform.auth.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** REST: the SMTP listeners this replica serves, their connections and the certificate STARTTLS presents. */
@Path("/api/v1/smtp/listeners")
@Produces(MediaType.APPLICATION_JSON)
public class SmtpStatusResource {

    /** One listener as this replica serves it. */
    public record ListenerStatus(String name, String address, String hostname, int connections, int maxConcurrentConnections,
            int maxConnectionsPerClient, long maxMessageSizeBytes, String certificateSlot, String certificate, boolean demoCertificate) {}

    private final SmtpServers servers;
    private final CertClient certs;

    SmtpStatusResource(SmtpServers servers, CertClient certs) {
        this.servers = servers;
        this.certs = certs;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "SMTP listeners served by this replica, with open connections and the certificate in use")
    public List<ListenerStatus> list() {
        return servers.bound().values().stream().map(b -> {
            var l = b.listener();
            CertClient.ServerTls tls = certs.tls(l.getCertificateSlot());
            return new ListenerStatus(l.getName(), b.address(), l.getHostname(), b.connections(), l.getMaxConcurrentConnections(),
                    l.getMaxConnectionsPerClient(), l.getMaxMessageSizeBytes(), l.getCertificateSlot(),
                    tls == null ? null : tls.certificate(), tls != null && tls.demo());
        }).sorted(java.util.Comparator.comparing(ListenerStatus::name)).toList();
    }
}
