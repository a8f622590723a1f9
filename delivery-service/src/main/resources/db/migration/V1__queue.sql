-- The durable queue. A message and its recipients are inserted in one transaction; Enqueue
-- answers only after it commits.
create table message (
    mid         bigserial primary key,
    mail_from   text not null,                 -- '' is the null reverse-path <>
    data        bytea not null,
    size        integer not null,
    icid        bigint,
    listener    text,
    received_at timestamptz not null default now(),
    state       text not null default 'QUEUED' check (state in ('QUEUED', 'DONE', 'BOUNCED'))
);

create table recipient (
    mid     bigint not null references message (mid) on delete cascade,
    rid     integer not null,
    address text not null,
    state   text not null default 'QUEUED' check (state in ('QUEUED', 'DELIVERED', 'BOUNCED')),
    primary key (mid, rid)
);
create index recipient_queued on recipient (mid) where state = 'QUEUED';
