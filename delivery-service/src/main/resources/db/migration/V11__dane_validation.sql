-- When DNSSEC validation last worked (DANE's probe, any replica): once it has, a failing probe
-- no longer switches DANE off (that would let whoever blocks the probe downgrade delivery).
create table dane_validation (
    id          integer primary key check (id = 1),
    worked_at   timestamptz not null
);
