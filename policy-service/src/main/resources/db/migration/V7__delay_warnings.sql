-- Delay warnings (docs/operations.md): the first when a message has waited this long, then at
-- most this often, at most max_delay_warnings per recipient.
alter table bounce_profile add column delay_warning_interval_seconds integer not null default 14400
    check (delay_warning_interval_seconds between 1 and 604800);
alter table bounce_profile add column max_delay_warnings integer not null default 1
    check (max_delay_warnings between 1 and 100);
