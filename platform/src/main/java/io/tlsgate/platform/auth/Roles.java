package io.tlsgate.platform.auth;

/** Role names for {@code @RolesAllowed}; they match {@link io.tlsgate.core.auth.Role#id()}. */
public final class Roles {
    public static final String ADMIN = "admin";
    public static final String OPERATOR = "operator";
    public static final String READER = "reader";

    private Roles() {}
}
