-- Running listener-service replicas, for the admin API (which replicas are up, since when).
-- Mail state is never kept here: accepted mail lives in delivery-service's queue.
create table instance (
    id           uuid primary key,
    host         text not null,
    started_at   timestamptz not null default now(),
    heartbeat_at timestamptz not null default now()
);
