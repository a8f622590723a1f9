-- Required-TLS alert windows per destination domain and reason, shared by the replicas: the
-- first failure alerts at once, later ones in the window are counted here (in the transaction
-- that records the delivery result) and reported as one follow-up when the window ends.
create table alert_window (
    domain   text not null,
    reason   text not null,
    started  timestamptz not null,
    held     integer not null default 0,
    last     timestamptz not null,
    primary key (domain, reason)
);
create index alert_window_started on alert_window (started);
