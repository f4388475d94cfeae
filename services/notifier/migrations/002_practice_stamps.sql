-- The practices' sender addresses merge field by field like every replicated record
-- (shared/merged_rows.py, which also bounds what comes from the bus), with bigint versions
-- (see auth 011).
ALTER TABLE practices ALTER COLUMN version TYPE bigint;
ALTER TABLE practices ADD COLUMN stamps jsonb NOT NULL DEFAULT '{}';
