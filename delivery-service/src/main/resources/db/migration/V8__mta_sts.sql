-- MTA-STS policies (RFC 8461) of destination domains, fetched by any replica and used by all.
create table mta_sts_policy (
    domain          text primary key,
    policy_id       text not null,
    mode            text not null check (mode in ('enforce', 'testing', 'none')),
    mx              text not null,          -- the MX patterns, one per line
    max_age_seconds bigint not null,
    fetched_at      timestamptz not null,
    expires_at      timestamptz not null,   -- fetched_at + max_age: not used after this
    checked_at      timestamptz not null    -- when the _mta-sts TXT record was last looked at
);
