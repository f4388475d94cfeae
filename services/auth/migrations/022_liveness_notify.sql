-- Auth keeps its sessions' liveness in memory (shared/liveness.py, docs/adr/0015): every
-- change to what the check reads is announced to every process of this database. Revocations
-- are a grow-only set until housekeeping forgets ended ones: memory forgets them by itself,
-- so deleting them says nothing.
CREATE TRIGGER revocations_liveness AFTER INSERT OR UPDATE ON revocations
    FOR EACH ROW EXECUTE FUNCTION liveness_notify('sid', 'session_expires_at');
CREATE TRIGGER session_cutoffs_liveness AFTER INSERT OR UPDATE OR DELETE ON session_cutoffs
    FOR EACH ROW EXECUTE FUNCTION liveness_notify('practice', 'employee', 'before');
CREATE TRIGGER practices_liveness AFTER INSERT OR UPDATE OR DELETE ON practices
    FOR EACH ROW EXECUTE FUNCTION liveness_notify('id', 'two_factor_required');
CREATE TRIGGER employees_liveness AFTER INSERT OR UPDATE OR DELETE ON employees
    FOR EACH ROW EXECUTE FUNCTION liveness_notify(
        'practice', 'id', 'in_service', 'rights_group', 'username', 'name', 'email');
CREATE TRIGGER revocations_liveness_truncated AFTER TRUNCATE ON revocations
    FOR EACH STATEMENT EXECUTE FUNCTION liveness_notify();
CREATE TRIGGER session_cutoffs_liveness_truncated AFTER TRUNCATE ON session_cutoffs
    FOR EACH STATEMENT EXECUTE FUNCTION liveness_notify();
CREATE TRIGGER practices_liveness_truncated AFTER TRUNCATE ON practices
    FOR EACH STATEMENT EXECUTE FUNCTION liveness_notify();
CREATE TRIGGER employees_liveness_truncated AFTER TRUNCATE ON employees
    FOR EACH STATEMENT EXECUTE FUNCTION liveness_notify();
