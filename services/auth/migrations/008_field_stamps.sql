-- Per-field last writer wins (shared/merge.py): the fields of a replicated record last written
-- earlier than the record's own stamp (version, updated_at, zone), as
-- {"field": {"version": …, "updated_at": …, "zone": …}}. Empty: every field has the record's
-- stamp (every row written before this migration).
ALTER TABLE practices ADD COLUMN stamps jsonb NOT NULL DEFAULT '{}';
ALTER TABLE employees ADD COLUMN stamps jsonb NOT NULL DEFAULT '{}';
ALTER TABLE factors ADD COLUMN IF NOT EXISTS stamps jsonb NOT NULL DEFAULT '{}';
ALTER TABLE certificates ADD COLUMN stamps jsonb NOT NULL DEFAULT '{}';
