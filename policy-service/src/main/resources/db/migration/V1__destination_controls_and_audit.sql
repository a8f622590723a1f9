-- Destination controls (product.md §1): one row per key; a NULL field means "use default".
-- The 'default' row always exists and has every field set.
create table destination_control (
    key                         text primary key,
    tls                         text check (tls in ('NONE', 'PREFERRED', 'REQUIRED', 'PREFERRED_VERIFY',
                                                    'REQUIRED_VERIFY', 'REQUIRED_VERIFY_HOSTED_DOMAINS')),
    max_concurrent_connections  integer check (max_concurrent_connections between 1 and 1000),
    max_messages_per_connection integer check (max_messages_per_connection between 1 and 1000),
    bounce_profile              text,
    updated_at                  timestamptz not null default now(),
    constraint default_entry_is_complete check (key <> 'default' or (tls is not null
        and max_concurrent_connections is not null and max_messages_per_connection is not null
        and bounce_profile is not null))
);

insert into destination_control (key, tls, max_concurrent_connections, max_messages_per_connection, bounce_profile)
values ('default', 'NONE', 500, 50, 'default');

-- Audit log: every accepted change, who made it, before and after.
create table audit_log (
    id         bigserial primary key,
    at         timestamptz not null default now(),
    principal  text not null,
    action     text not null,
    entity     text not null,
    before     jsonb,
    after      jsonb,
    comment    text
);
create index audit_log_at on audit_log (at desc);
