-- Operator-added trusted CAs, used on top of the system bundle to verify peers.
create table trusted_ca (
    id                 uuid primary key default gen_random_uuid(),
    subject            text not null,
    fingerprint_sha256 text not null unique,
    not_after          timestamptz not null,
    pem                text not null,
    added_at           timestamptz not null default now(),
    added_by           text not null
);

-- One row: bumped on every change of the trust store, so watchers can tell they are current.
create table trust_revision (
    id       integer primary key check (id = 1),
    revision bigint not null
);
insert into trust_revision (id, revision) values (1, 0);
