-- The internal CA that issues the services' identities for mutual TLS on internal gRPC
-- (docs/security.md). One row, made by the first cert-service to start; its private key is
-- sealed like every other key (KeyVault, owner "internal-ca").
create table internal_ca (
    id               int primary key check (id = 1),
    certificate_pem  text not null,
    key_ciphertext   bytea not null,
    key_nonce        bytea not null,
    data_key_wrapped bytea not null,
    data_key_nonce   bytea not null,
    master_key_id    text not null,
    created_at       timestamptz not null default now()
);
