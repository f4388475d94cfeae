-- A practice's lowest accepted assurance level, and per rights group (docs/adr/0012), from
-- directory.practices: {"minimum": "substantial", "1": "high", ...}, each key merged on its own.
ALTER TABLE practices ADD COLUMN assurance jsonb NOT NULL DEFAULT '{}';

-- The level a login must reach, settled at its password step (the practice's minimum for the
-- employee's rights group, or more when an application asked): its second step is checked
-- against it.
ALTER TABLE logins ADD COLUMN required_level text NOT NULL DEFAULT 'low';
