-- Versions of replicated records as bigint: an int column could be pushed to its largest
-- value, after which no edit could carry a greater version (the record frozen). The bus
-- bounds every incoming version as well (shared/bounds.py).
ALTER TABLE practices ALTER COLUMN version TYPE bigint;
ALTER TABLE employees ALTER COLUMN version TYPE bigint;
ALTER TABLE credentials ALTER COLUMN version TYPE bigint;
ALTER TABLE factors ALTER COLUMN version TYPE bigint;
ALTER TABLE certificates ALTER COLUMN version TYPE bigint;
ALTER TABLE clients ALTER COLUMN version TYPE bigint;
