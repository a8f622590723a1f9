package io.tlsgate.core.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Looks up bearer tokens. Built once from configuration (principal name to token and role);
 * answers which principal and role a presented token belongs to.
 *
 * <p>Only SHA-256 digests of the tokens are kept, and every lookup compares the digest of
 * the presented token with every entry in constant time, so neither the table in memory nor
 * the time a lookup takes tells anything about a token. A table refuses tokens shorter than
 * {@link #MIN_TOKEN_LENGTH} and two principals sharing a token: both are configuration
 * mistakes that would weaken authentication.
 *
 * <p>Security-sensitive: this is the only place a REST or gRPC token is checked.
 */
public final class TokenTable {

    /** Shortest token accepted in configuration: 16 characters. */
    public static final int MIN_TOKEN_LENGTH = 16;

    /** One configured token. */
    public record Entry(String principal, String token, Role role) {}

    /** A successful lookup: who the caller is. */
    public record Principal(String name, Role role) {}

    private record Digested(String principal, byte[] digest, Role role) {}

    private final List<Digested> entries;

    private TokenTable(List<Digested> entries) {
        this.entries = entries;
    }

    /**
     * Builds a table.
     *
     * @throws IllegalArgumentException naming the principal whose token is missing, too
     *     short, or the same as another principal's
     */
    public static TokenTable of(List<Entry> configured) {
        List<Digested> digested = new ArrayList<>();
        for (Entry e : configured) {
            if (e.token() == null || e.token().isBlank()) {
                throw new IllegalArgumentException("token of '" + e.principal() + "' is empty");
            }
            if (e.token().length() < MIN_TOKEN_LENGTH) {
                throw new IllegalArgumentException("token of '" + e.principal()
                        + "' is shorter than " + MIN_TOKEN_LENGTH + " characters");
            }
            byte[] d = sha256(e.token());
            for (Digested other : digested) {
                if (MessageDigest.isEqual(other.digest(), d)) {
                    throw new IllegalArgumentException("'" + e.principal() + "' and '"
                            + other.principal() + "' have the same token");
                }
            }
            digested.add(new Digested(e.principal(), d, e.role()));
        }
        return new TokenTable(List.copyOf(digested));
    }

    /**
     * The principal a presented token belongs to, or empty. Runs in time independent of
     * where (or whether) the token matches.
     */
    public Optional<Principal> lookup(String presented) {
        if (presented == null || presented.isEmpty()) {
            return Optional.empty();
        }
        byte[] d = sha256(presented);
        Digested found = null;
        for (Digested e : entries) {
            if (MessageDigest.isEqual(e.digest(), d) && found == null) {
                found = e;
            }
        }
        return found == null ? Optional.empty() : Optional.of(new Principal(found.principal(), found.role()));
    }

    public int size() {
        return entries.size();
    }

    /**
     * The token of an {@code Authorization} header value of the form {@code Bearer <token>}
     * (scheme case-insensitive), or empty for any other form.
     */
    public static Optional<String> bearerToken(String authorizationHeader) {
        if (authorizationHeader == null) {
            return Optional.empty();
        }
        String h = authorizationHeader.trim();
        if (h.length() <= 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return Optional.empty();
        }
        String token = h.substring(7).trim();
        return token.isEmpty() ? Optional.empty() : Optional.of(token);
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
