package io.tlsgate.delivery.queue;

/**
 * What the sender of a message asked of its transport security (RFC 8689): nothing
 * ({@link #NORMAL}: the destination controls, DANE and MTA-STS decide), {@link #REQUIRE_TLS}
 * (MAIL FROM with REQUIRETLS: only over verified TLS to a next hop that offers REQUIRETLS) or
 * {@link #TLS_OPTIONAL} (a {@code TLS-Required: No} header field: the recipient domain's DANE
 * and MTA-STS policies are not applied; the destination controls still are). REQUIRETLS wins
 * over the header (RFC 8689 §5).
 */
public enum TlsRequest {
    NORMAL,
    REQUIRE_TLS,
    TLS_OPTIONAL;

    public static TlsRequest of(boolean requireTls, boolean tlsRequiredNo) {
        return requireTls ? REQUIRE_TLS : tlsRequiredNo ? TLS_OPTIONAL : NORMAL;
    }
}
