-- Inbound policy (product.md §3): mail flow policies, sender groups, listeners with their host
-- access tables, the recipient access table and SMTP routes. A fresh install is no open
-- relay: the RAT is empty (so ACCEPT clients can send to nobody), the only RELAY policy is
-- used by RELAYLIST, which starts with no senders, and the catch-all group ALL gets ACCEPTED.

create table mail_flow_policy (
    name                        text primary key check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    behaviour                   text not null check (behaviour in ('ACCEPT', 'RELAY', 'REJECT', 'TCPREFUSE')),
    tls                         text not null check (tls in ('OFF', 'PREFERRED', 'REQUIRED', 'PREFERRED_VERIFY', 'REQUIRED_VERIFY')),
    tls_mandatory_senders       text[] not null default '{}',
    max_recipients_per_message  integer not null check (max_recipients_per_message between 1 and 100000),
    max_messages_per_connection integer not null check (max_messages_per_connection between 1 and 10000),
    check (cardinality(tls_mandatory_senders) = 0 or tls in ('PREFERRED', 'PREFERRED_VERIFY'))
);
insert into mail_flow_policy (name, behaviour, tls, max_recipients_per_message, max_messages_per_connection) values
    ('ACCEPTED', 'ACCEPT', 'PREFERRED', 1000, 100),
    ('RELAYED', 'RELAY', 'PREFERRED', 1000, 100),
    ('BLOCKED', 'REJECT', 'OFF', 1000, 100);

create table sender_group (
    name    text primary key check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    policy  text not null references mail_flow_policy (name),
    senders text[] not null default '{}'
);
create index sender_group_policy on sender_group (policy);
insert into sender_group (name, policy, senders) values
    ('ALL', 'ACCEPTED', '{ALL}'),
    ('RELAYLIST', 'RELAYED', '{}'),
    ('BLOCKLIST', 'BLOCKED', '{}');

create table listener (
    name                       text primary key check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    bind_address               text not null,
    port                       integer not null check (port between 1 and 65535),
    hostname                   text not null,
    max_connections            integer not null check (max_connections between 1 and 100000),
    max_connections_per_client integer not null check (max_connections_per_client between 1 and 100000),
    max_message_size           bigint not null check (max_message_size between 1024 and 1073741824)
);
-- Port 2525: no root or NET_BIND_SERVICE needed; a Kubernetes Service maps 25 to it.
insert into listener values ('inbound', '0.0.0.0', 2525, 'localhost', 300, 20, 10485760);

-- A listener's host access table: sender groups in order; the catch-all ALL is always last
-- and never listed.
create table listener_hat (
    listener     text not null references listener (name) on delete cascade,
    position     integer not null check (position >= 1),
    sender_group text not null references sender_group (name) check (sender_group <> 'ALL'),
    primary key (listener, position),
    unique (listener, sender_group)
);
create index listener_hat_group on listener_hat (sender_group);
insert into listener_hat values ('inbound', 1, 'BLOCKLIST'), ('inbound', 2, 'RELAYLIST');

create table rat_entry (
    domain text primary key
);

create table smtp_route (
    domain text primary key,
    hops   text[] not null check (cardinality(hops) between 1 and 33)
);

-- Every table bumps the policy version; destination-table changes also record the version
-- in destinations_version, so a replica rebuilds its large destination index only when that
-- table changed and just the small inbound snapshot otherwise.
alter table policy_version add column destinations_version bigint not null default 1;

create or replace function bump_policy_version() returns trigger language plpgsql set search_path from current as $$
declare v bigint;
begin
    if coalesce(current_setting('tlsgate.policy_version_bumped', true), '') <> 'yes' then
        update policy_version set version = version + 1 where id = 1 returning version into v;
        perform pg_notify('tlsgate_policy_changed', v::text);
        perform set_config('tlsgate.policy_version_bumped', 'yes', true);
    end if;
    if tg_nargs > 0 and tg_argv[0] = 'destinations'
            and coalesce(current_setting('tlsgate.destinations_bumped', true), '') <> 'yes' then
        update policy_version set destinations_version = version where id = 1;
        perform set_config('tlsgate.destinations_bumped', 'yes', true);
    end if;
    return null;
end $$;

drop trigger destination_changed on destination;
create trigger destination_changed after insert or update or delete or truncate on destination
    for each statement execute function bump_policy_version('destinations');
create trigger mail_flow_policy_changed after insert or update or delete or truncate on mail_flow_policy
    for each statement execute function bump_policy_version();
create trigger sender_group_changed after insert or update or delete or truncate on sender_group
    for each statement execute function bump_policy_version();
create trigger listener_changed after insert or update or delete or truncate on listener
    for each statement execute function bump_policy_version();
create trigger listener_hat_changed after insert or update or delete or truncate on listener_hat
    for each statement execute function bump_policy_version();
create trigger rat_entry_changed after insert or update or delete or truncate on rat_entry
    for each statement execute function bump_policy_version();
create trigger smtp_route_changed after insert or update or delete or truncate on smtp_route
    for each statement execute function bump_policy_version();
