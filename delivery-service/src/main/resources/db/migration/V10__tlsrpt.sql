-- TLSRPT (RFC 8460): which (destination domain, day) has been reported, so that one replica
-- sends each day's report once.
create table tlsrpt_report (
    domain      text not null,
    day         date not null,
    report_id   text not null,
    created_at  timestamptz not null default now(),
    primary key (domain, day)
);

-- A day's connections are read once a day per replica for the reports: by time, not by a scan of every attempt.
create index attempt_at on attempt (at);
