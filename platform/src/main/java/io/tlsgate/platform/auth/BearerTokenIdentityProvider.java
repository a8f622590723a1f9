package io.tlsgate.platform.auth;

import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.IdentityProvider;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import io.quarkus.security.runtime.QuarkusPrincipal;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.smallrye.mutiny.Uni;
import io.tlsgate.core.auth.Role;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Turns a bearer token into an identity whose roles are the token's role and every weaker
 * one ({@link Role#included()}), so {@code @RolesAllowed("reader")} admits operators and
 * admins too.
 *
 * <p>Security-sensitive.
 */
@ApplicationScoped
public class BearerTokenIdentityProvider implements IdentityProvider<TokenAuthenticationRequest> {

    private final Tokens tokens;

    BearerTokenIdentityProvider(Tokens tokens) {
        this.tokens = tokens;
    }

    @Override
    public Class<TokenAuthenticationRequest> getRequestType() {
        return TokenAuthenticationRequest.class;
    }

    @Override
    public Uni<SecurityIdentity> authenticate(TokenAuthenticationRequest request, AuthenticationRequestContext context) {
        return tokens.apiPrincipal(request.getToken().getToken())
                .map(p -> {
                    QuarkusSecurityIdentity.Builder b = QuarkusSecurityIdentity.builder()
                            .setPrincipal(new QuarkusPrincipal(p.name()));
                    p.role().included().forEach(r -> b.addRole(r.id()));
                    return Uni.createFrom().<SecurityIdentity>item(b.build());
                })
                .orElseGet(() -> Uni.createFrom().failure(new AuthenticationFailedException("unknown token")));
    }
}
