-- A destination entry may ignore the domain's MTA-STS policy (RFC 8461): an operator's escape
-- hatch for a domain whose policy is wrong. NULL: as the default entry says; the default says false.
alter table destination add column ignore_mta_sts boolean;
update destination set ignore_mta_sts = false where key = 'default';
alter table destination add constraint destination_default_ignore_mta_sts
    check (kind <> 'DEFAULT' or ignore_mta_sts is not null);
