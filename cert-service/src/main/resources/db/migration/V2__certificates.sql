-- Certificates with their private keys sealed (KeyVault: AES-256-GCM under a per-key data
-- key, itself sealed under the master key from configuration), and slot assignments.

create table certificate (
    name             text primary key check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    key_type         text not null,
    key_ciphertext   bytea not null,
    key_nonce        bytea not null,
    data_key_wrapped bytea not null,
    data_key_nonce   bytea not null,
    master_key_id    text not null,
    -- The certificate chain, leaf first, PEM.
    chain_pem        text not null,
    -- The CSR made with the key (null for imported keys).
    csr_pem          text,
    demo             boolean not null default false,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    created_by       text not null
);

-- Which certificate a slot serves; a slot without a row serves the demo certificate.
create table assignment (
    slot        text primary key check (slot ~ '^(listener:[A-Za-z0-9][A-Za-z0-9._-]{0,63}|outbound|https)$'),
    certificate text not null references certificate (name),
    assigned_at timestamptz not null default now(),
    assigned_by text not null
);
create index assignment_certificate on assignment (certificate);

-- Every change to certificates, assignments or trusted CAs bumps the revision once per
-- transaction and NOTIFYs tlsgate_cert_changed, so watchers (WatchBundle) learn within a second.
create function bump_cert_revision() returns trigger language plpgsql set search_path from current as $$
declare v bigint;
begin
    if coalesce(current_setting('tlsgate.cert_revision_bumped', true), '') <> 'yes' then
        update trust_revision set revision = revision + 1 where id = 1 returning revision into v;
        perform pg_notify('tlsgate_cert_changed', v::text);
        perform set_config('tlsgate.cert_revision_bumped', 'yes', true);
    end if;
    return null;
end $$;

create trigger certificate_changed after insert or update or delete on certificate
    for each statement execute function bump_cert_revision();
create trigger assignment_changed after insert or update or delete on assignment
    for each statement execute function bump_cert_revision();
create trigger trusted_ca_changed after insert or update or delete on trusted_ca
    for each statement execute function bump_cert_revision();

-- One expiry alert per certificate per day, whichever replica checks first.
create table expiry_alert (
    certificate text not null,
    day         date not null,
    primary key (certificate, day)
);
