-- The audit trail (NEN 7510 logging, NEN 7513 / IHE ATNA fields): one row per auditable event
-- from the bus, both zones' events in both zones' stores, keyed by the event id (a redelivery
-- adds nothing). Append-only for the services: UPDATE is always refused, DELETE only in a
-- transaction that set tweestap.audit_purge = 'on' (the retention job, SET LOCAL).
CREATE TABLE audit_events (
    event_id uuid PRIMARY KEY,
    practice text NOT NULL,
    time timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    action text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
    actor_user text,
    actor_rights_group integer,
    actor_address text,
    object_type text NOT NULL CHECK (object_type IN ('employee', 'certificate', 'practice')),
    object_id text NOT NULL,
    source text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_practice_time ON audit_events (practice, time DESC, event_id DESC);
CREATE INDEX audit_events_actor ON audit_events (practice, actor_user, time DESC);
CREATE INDEX audit_events_object ON audit_events (practice, object_id, time DESC);
CREATE INDEX audit_events_action ON audit_events (practice, action, time DESC);
CREATE INDEX audit_events_time ON audit_events (time);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('tweestap.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
