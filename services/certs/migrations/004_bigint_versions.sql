-- Versions of replicated records as bigint (see auth 011).
ALTER TABLE practices ALTER COLUMN version TYPE bigint;
ALTER TABLE employees ALTER COLUMN version TYPE bigint;
ALTER TABLE certificates ALTER COLUMN version TYPE bigint;
