-- The audit trail is append-only against the service's own database role too (NEN 7513): it
-- may read and add records, not update, delete or truncate them (shared/db.py's grants).
-- Only the tables' owner deletes, in the retention purge (tweestap.audit_purge, migration 005).
INSERT INTO append_only_tables (name) VALUES ('audit_events');
