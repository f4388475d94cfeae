-- Auth keeps the active relying services (clients) current by the same announcements as a
-- session's liveness (shared/liveness.py, docs/adr/0015): a process believes a client it has
-- read until a message says that client changed, then reads the row again. The message
-- carries the key and the record's stamp (version, updated_at, zone, stamps: a merged write,
-- shared/merged_rows.py, changes one of them whenever it changes any field), never the
-- secret's hash. A truncation says so.
CREATE TRIGGER clients_liveness AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION liveness_notify(
        'id', 'active', 'version', 'updated_at', 'zone', 'stamps');
CREATE TRIGGER clients_liveness_truncated AFTER TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION liveness_notify();
