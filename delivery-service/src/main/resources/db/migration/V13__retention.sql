-- Retention (docs/operations.md): a finished message's content is removed after
-- tlsgate.delivery.retention.content, its envelope, recipients and attempts after
-- tlsgate.delivery.retention.records. finished_at is set by the database whenever a message
-- leaves QUEUED, whatever code does it.
alter table message add column finished_at timestamptz;
alter table message add column content_removed_at timestamptz;

create function message_finished() returns trigger language plpgsql as $$
begin
    if new.state <> 'QUEUED' and old.state = 'QUEUED' then
        new.finished_at := now();
    end if;
    return new;
end
$$;
create trigger message_finished before update of state on message for each row execute function message_finished();

update message set finished_at = received_at where state <> 'QUEUED';

create index message_content_expiry on message (finished_at) where state <> 'QUEUED' and content_removed_at is null;
create index message_record_expiry on message (finished_at) where state <> 'QUEUED';
