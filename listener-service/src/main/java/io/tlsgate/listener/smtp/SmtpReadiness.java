package io.tlsgate.listener.smtp;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready when every listener policy-service lists is bound (each one's address in the data). */
@Readiness
@ApplicationScoped
public class SmtpReadiness implements HealthCheck {

    private final SmtpServers servers;

    SmtpReadiness(SmtpServers servers) {
        this.servers = servers;
    }

    @Override
    public HealthCheckResponse call() {
        var r = HealthCheckResponse.named("smtp-listeners").status(servers.ready());
        servers.bound().forEach((name, b) -> r.withData(name, b.address()));
        if (servers.lastError() != null) {
            r.withData("error", servers.lastError());
        }
        return r.build();
    }
}
