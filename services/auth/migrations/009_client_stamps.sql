-- Registered clients merge field by field too (see 008_field_stamps.sql).
ALTER TABLE clients ADD COLUMN stamps jsonb NOT NULL DEFAULT '{}';
