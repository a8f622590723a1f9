-- Events written in the same transaction as what they report (a delivery result, a policy
-- change, an alert), published to Kafka by the outbox relay and deleted once the broker has
-- them. The CloudEvents id is fixed here, so a re-send after a crash carries the same id.
create table event_outbox (
    seq        bigserial primary key,
    id         text not null,
    type       text not null,
    source     text not null,
    time       timestamptz not null,
    topic      text not null,
    key        text,
    payload    bytea not null
);
