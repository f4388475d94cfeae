-- The care identifiers a Dezi (or UZI-pas) login is linked by (docs/adr/0014), from the
-- directory: a practice's URA (eight digits) and an employee's Dezi/UZI number. NULL: not
-- known here (a writer that does not state it keeps the stored one); '': recorded as none.
ALTER TABLE practices ADD COLUMN ura text;
ALTER TABLE employees ADD COLUMN dezi_number text;
-- A number is unique within a practice (enrolment checks it under a lock before it writes).
CREATE INDEX employees_dezi_number ON employees (practice, dezi_number)
    WHERE dezi_number IS NOT NULL AND dezi_number <> '';
