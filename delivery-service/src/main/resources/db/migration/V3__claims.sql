-- Scheduling: each recipient is due at next_attempt_at; a worker claims due recipients with
-- FOR UPDATE SKIP LOCKED and holds a lease; a crashed worker's lease runs out and another
-- replica claims the work again. Completion only counts from the lease holder (fencing).
alter table recipient
    add column domain          text,
    add column next_attempt_at timestamptz not null default now(),
    add column attempts        integer not null default 0,
    add column lease_until     timestamptz,
    add column leased_by       text,
    add column last_reply      text;
update recipient set domain = lower(substring(address from '@([^@]*)$'));
alter table recipient alter column domain set not null;
create index recipient_due on recipient (next_attempt_at) where state = 'QUEUED';
