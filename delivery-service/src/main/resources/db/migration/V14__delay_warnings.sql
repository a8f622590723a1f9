-- Delay warnings sent per recipient (bounce profile: send_delay_warnings, interval, maximum).
alter table recipient add column delay_warnings integer not null default 0;
alter table recipient add column last_delay_warning_at timestamptz;
