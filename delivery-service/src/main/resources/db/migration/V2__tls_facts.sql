-- How each message came in (the inbound TLS facts listener-service hands over with Enqueue).
alter table message
    add column tls_protocol       text,
    add column tls_cipher         text,
    add column tls_client_subject text,
    add column tls_client_verified boolean not null default false;
