-- What a message's sender asked of its transport security (RFC 8689): MAIL FROM with REQUIRETLS,
-- or a "TLS-Required: No" header field. Delivery splits a domain's messages by it.
alter table message add column tls_request text not null default 'NORMAL'
    check (tls_request in ('NORMAL', 'REQUIRE_TLS', 'TLS_OPTIONAL'));
