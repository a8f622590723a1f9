-- policy-service schema: bounce profiles (product.md §6), destination controls (§1), global
-- outbound settings, the change version other services watch, and the audit log.

create table bounce_profile (
    name                  text primary key check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    max_retries           integer not null check (max_retries between 0 and 10000),
    max_queue_seconds     integer not null check (max_queue_seconds between 60 and 2592000),
    initial_retry_seconds integer not null check (initial_retry_seconds between 60 and 86400),
    max_retry_seconds     integer not null check (max_retry_seconds between 60 and 86400),
    hard_bounce           boolean not null,
    delay_warnings        boolean not null,
    check (max_retry_seconds >= initial_retry_seconds)
);
insert into bounce_profile values ('default', 100, 259200, 60, 3600, true, false);

-- One row per entry; a NULL field means "use default". The 'default' row has every field set.
create table destination (
    key                         text primary key,
    kind                        text not null check (kind in ('DEFAULT', 'DOMAIN', 'SUFFIX', 'ADDRESS', 'CIDR')),
    tls                         text check (tls in ('NONE', 'PREFERRED', 'REQUIRED', 'PREFERRED_VERIFY',
                                                    'REQUIRED_VERIFY', 'REQUIRED_VERIFY_HOSTED_DOMAINS')),
    max_concurrent_connections  integer check (max_concurrent_connections between 1 and 1000),
    max_messages_per_connection integer check (max_messages_per_connection between 1 and 1000),
    -- NULL: use default; false: no limit; true: recipient_limit per recipient_minutes.
    recipient_limited           boolean,
    recipient_limit             integer check (recipient_limit between 0 and 1000000000),
    recipient_minutes           integer check (recipient_minutes between 1 and 60),
    limits_apply_per            text check (limits_apply_per in ('DOMAIN', 'MX_IP')),
    limits_scope                text check (limits_scope in ('SYSTEM', 'VIRTUAL_GATEWAY')),
    ip_preference               text check (ip_preference in ('IPV6_PREFERRED', 'IPV4_PREFERRED', 'IPV6_ONLY', 'IPV4_ONLY')),
    bounce_verification         boolean,
    bounce_profile              text references bounce_profile (name),
    created_at                  timestamptz not null default now(),
    updated_at                  timestamptz not null default now(),
    check ((recipient_limited is true) = (recipient_limit is not null and recipient_minutes is not null)),
    check ((recipient_limited is true) or (recipient_limit is null and recipient_minutes is null)),
    check ((key = 'default') = (kind = 'DEFAULT')),
    check (kind <> 'DEFAULT' or (tls is not null and max_concurrent_connections is not null
        and max_messages_per_connection is not null and recipient_limited is not null
        and limits_apply_per is not null and limits_scope is not null and ip_preference is not null
        and bounce_verification is not null and bounce_profile is not null))
);
create index destination_bounce_profile on destination (bounce_profile);

insert into destination (key, kind, tls, max_concurrent_connections, max_messages_per_connection, recipient_limited,
                         limits_apply_per, limits_scope, ip_preference, bounce_verification, bounce_profile)
values ('default', 'DEFAULT', 'NONE', 500, 50, false, 'DOMAIN', 'SYSTEM', 'IPV6_PREFERRED', false, 'default');

create table outbound_settings (
    id                            integer primary key check (id = 1),
    alert_on_required_tls_failure boolean not null,
    certificate_slot              text not null,
    trusted_ca_mode               text not null check (trusted_ca_mode in ('SYSTEM_AND_CUSTOM', 'CUSTOM_ONLY', 'SYSTEM_ONLY'))
);
insert into outbound_settings values (1, true, 'outbound', 'SYSTEM_AND_CUSTOM');

-- Bumped by every statement that changes policy; the new value is announced with NOTIFY
-- (delivered at commit) so every replica reloads within a second, and streamed by
-- PolicyService.WatchChanges.
create table policy_version (
    id      integer primary key check (id = 1),
    version bigint not null
);
insert into policy_version values (1, 1);

-- search_path is pinned to the schema the migration ran in, so a write from any session works.
create function bump_policy_version() returns trigger language plpgsql set search_path from current as $$
declare v bigint;
begin
    update policy_version set version = version + 1 where id = 1 returning version into v;
    perform pg_notify('tlsgate_policy_changed', v::text);
    return null;
end $$;

create trigger destination_changed after insert or update or delete or truncate on destination
    for each statement execute function bump_policy_version();
create trigger bounce_profile_changed after insert or update or delete or truncate on bounce_profile
    for each statement execute function bump_policy_version();
create trigger outbound_settings_changed after insert or update or delete on outbound_settings
    for each statement execute function bump_policy_version();

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
create index audit_log_at on audit_log (at);
