-- A statement trigger fires once per statement, and a batched import is one statement per
-- row: bumping policy_version (and queueing a NOTIFY) for each of them made a 100,000-entry
-- import spend most of its time rewriting one row. Bump once per transaction instead; the
-- marker is transaction-local (set_config(..., true)), so it also goes away with a
-- rolled-back savepoint and the next statement bumps again.
create or replace function bump_policy_version() returns trigger language plpgsql set search_path from current as $$
declare v bigint;
begin
    if current_setting('tlsgate.policy_version_bumped', true) = 'yes' then
        return null;
    end if;
    update policy_version set version = version + 1 where id = 1 returning version into v;
    perform pg_notify('tlsgate_policy_changed', v::text);
    perform set_config('tlsgate.policy_version_bumped', 'yes', true);
    return null;
end $$;
