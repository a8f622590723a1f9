-- Delivery connections: one DCID per connection from a sequence (unique across replicas), and
-- one row per connection made for a message, with its TLS facts, for GET /api/v1/messages/{mid}.
create sequence dcid_seq;

create table attempt (
    id              bigserial primary key,
    mid             bigint not null references message (mid) on delete cascade,
    rids            integer[] not null,
    dcid            bigint not null,
    at              timestamptz not null default now(),
    domain          text not null,
    host            text,
    ip              text,
    port            integer,
    tls_mode        text,
    tls_mode_source text,
    tls_result      text,     -- success | failure | plaintext-fallback | not-attempted
    tls_protocol    text,
    tls_cipher      text,
    tls_verification text,    -- success | failure | not-checked
    tls_failure     text,     -- RFC 8460 result type
    outcome         text not null,  -- delivered | deferred | bounced | partly (recipients differ)
    reply           text
);
create index attempt_mid on attempt (mid);

