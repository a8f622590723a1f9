-- MTA-STS policies (RFC 8461) this gateway publishes for the domains it receives mail for,
-- served at https://mta-sts.<domain>/.well-known/mta-sts.txt by every policy-service replica.
create table mta_sts_hosted (
    domain          text primary key check (domain = lower(domain)),
    mode            text not null check (mode in ('enforce', 'testing', 'none')),
    mx              text not null,          -- the MX patterns, one per line
    max_age_seconds bigint not null check (max_age_seconds between 0 and 31557600),
    policy_id       text not null check (policy_id ~ '^[A-Za-z0-9]{1,32}$'), -- new with every change: the TXT record names it
    updated_at      timestamptz not null default now()
);
