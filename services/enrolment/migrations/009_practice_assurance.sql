-- A practice's lowest accepted assurance level, and per rights group (docs/adr/0012), from
-- directory.practices: {"minimum": "substantial", "1": "high", ...}, each key merged on its own.
ALTER TABLE practices ADD COLUMN assurance jsonb NOT NULL DEFAULT '{}';
