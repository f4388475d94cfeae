-- The care identifiers a Dezi or UZI-pas login finds its employee by (docs/adr/0014), from
-- directory.practices and directory.employees: a practice's URA and an employee's Dezi/UZI
-- number. NULL: not known here (an upsert that does not state it keeps the stored one);
-- '': recorded as none. Not unique here: enrolment keeps a number unique within a practice,
-- and a login finding it twice (concurrent edits in two zones) is refused as ambiguous.
ALTER TABLE practices ADD COLUMN ura text;
ALTER TABLE employees ADD COLUMN dezi_number text;
CREATE INDEX employees_dezi_number ON employees (dezi_number)
    WHERE dezi_number IS NOT NULL AND dezi_number <> '';
