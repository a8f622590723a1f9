-- Destination limits shared by every delivery-service replica (limitsScope SYSTEM).
--
-- connection_slot: one row per open connection to a destination key ("domain:example.com", or
-- "ip:192.0.2.25" when limits apply per MX IP), slots numbered 0..maxConcurrentConnections-1.
-- A replica takes a free or expired slot before it connects, renews the expiry of its rows while
-- its connections are open and deletes a row when its connection closes. The rows of a replica
-- that died stay taken until they expire: the limit is never exceeded, the others wait.
create table connection_slot (
    key        text not null,
    slot       integer not null,
    holder     text not null,
    expires_at timestamptz not null,
    primary key (key, slot)
);
create index connection_slot_holder on connection_slot (holder);

-- recipient_rate: recipientLimit N per M minutes as a GCRA: per destination key the time at
-- which the next recipient may go ("theoretical arrival time"); each recipient sent moves it
-- M*60/N seconds on.
create table recipient_rate (
    key text primary key,
    tat timestamptz not null
);
