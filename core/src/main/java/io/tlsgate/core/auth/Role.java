package io.tlsgate.core.auth;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The roles of a REST API token, strongest first. A stronger role includes every weaker
 * one: an {@code admin} may do all an {@code operator} may, who may do all a {@code reader}
 * may.
 *
 * <p>Security-sensitive: this ordering decides who may change policy.
 */
public enum Role {
    /**
     * Everything, including keys (generate, import, export, delete), trusted CAs and the global
     * outbound settings.
     */
    ADMIN,
    /**
     * Day-to-day changes: destination controls, inbound policy and listeners, uploading the
     * CA-signed certificate for an existing key, assigning certificates to slots.
     */
    OPERATOR,
    /** Read-only access. */
    READER;

    /** Name used in configuration and in {@code @RolesAllowed}: lower case. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** This role and every weaker one. */
    public Set<Role> included() {
        return EnumSet.range(this, READER);
    }

    /** Whether a holder of this role may do what {@code required} allows. */
    public boolean includes(Role required) {
        return compareTo(required) <= 0;
    }

    /**
     * Parses a configured role name ({@code admin}, {@code operator}, {@code reader}; case
     * does not matter).
     *
     * @throws IllegalArgumentException naming the bad value and the allowed ones
     */
    public static Role parse(String value) {
        for (Role r : values()) {
            if (r.id().equalsIgnoreCase(value == null ? "" : value.trim())) {
                return r;
            }
        }
        throw new IllegalArgumentException(
                "unknown role '" + value + "', expected one of admin, operator, reader");
    }
}
