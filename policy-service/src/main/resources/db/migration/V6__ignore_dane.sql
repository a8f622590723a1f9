-- A destination entry may ignore the domain's DANE TLSA records (RFC 7672): an operator's escape
-- hatch for a domain whose TLSA records no longer match its certificates. NULL: as the default
-- entry says; the default says false.
alter table destination add column ignore_dane boolean;
update destination set ignore_dane = false where key = 'default';
alter table destination add constraint destination_default_ignore_dane
    check (kind <> 'DEFAULT' or ignore_dane is not null);
