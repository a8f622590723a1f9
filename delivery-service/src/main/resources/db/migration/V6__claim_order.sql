-- The claim reads due recipients in (next_attempt_at, mid, rid) order with a LIMIT: an index in
-- exactly that order lets it stop after the rows it takes (and the leased ones before them)
-- instead of sorting every due recipient on each claim. With many recipients due at the same
-- instant (a burst, a retry wave, a queue released at once) the old index on next_attempt_at
-- alone made every claim of 50 read and sort all of them: 20,000 due meant ~400 rows read
-- per message delivered.
create index recipient_due_order on recipient (next_attempt_at, mid, rid) where state = 'QUEUED';
drop index recipient_due;
