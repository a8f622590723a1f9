-- Queue actions (docs/operations.md): an operator can retry, delete, bounce or redirect queued
-- recipients. Deleted recipients get their own final state; every action is recorded.
alter table recipient drop constraint recipient_state_check;
alter table recipient add constraint recipient_state_check check (state in ('QUEUED', 'DELIVERED', 'BOUNCED', 'DELETED'));

-- Redirect: deliver to this host ("host", "host:port", "[address]", "[address]:port") instead
-- of the domain's MX hosts or route.
alter table recipient add column redirect_host text;

create table queue_action (
    id          bigserial primary key,
    at          timestamptz not null default now(),
    principal   text not null,
    action      text not null,
    selector    text not null,   -- what was acted on: "MID 12 RID [0, 1]", "domain example.com"
    detail      text,            -- e.g. the redirect host, "with DSN"
    comment     text,
    recipients  integer not null,
    messages    integer not null
);
create index queue_action_at on queue_action (at desc, id desc);

-- GET /queue's filters: queued recipients by domain, oldest first.
create index recipient_queued_domain on recipient (domain, mid) where state = 'QUEUED';
