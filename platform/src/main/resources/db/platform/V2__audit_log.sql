-- Every service's audit log: who changed what, when, the state before and after. (policy-service
-- had this table first, in its own migrations: there it exists already.)
create table if not exists audit_log (
    id         bigserial primary key,
    at         timestamptz not null default now(),
    principal  text not null,
    action     text not null,
    entity     text not null,
    before     jsonb,
    after      jsonb,
    comment    text
);
create index if not exists audit_log_at on audit_log (at);
