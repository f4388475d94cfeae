-- The liveness state kept in memory (shared/liveness.py, docs/adr/0015): a trigger function
-- that tells every process of this database, on channel `tweestap_liveness`, of a change to a
-- row of a table a session's liveness is read from, whichever path wrote it (a request, a
-- consumer, a command). Its arguments name the row's columns the message carries (the key
-- and what the check reads: never a secret); an update that leaves them as they were says
-- nothing; a truncation says so (for each statement). The message is sent when the writing
-- transaction commits, in commit order.
CREATE OR REPLACE FUNCTION liveness_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before jsonb;
    after  jsonb;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('tweestap_liveness',
                          jsonb_build_object('table', TG_TABLE_NAME, 'truncated', true)::text);
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        SELECT coalesce(jsonb_object_agg(key, value), '{}') INTO before
        FROM jsonb_each(to_jsonb(OLD)) WHERE key = ANY (TG_ARGV);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT coalesce(jsonb_object_agg(key, value), '{}') INTO after
        FROM jsonb_each(to_jsonb(NEW)) WHERE key = ANY (TG_ARGV);
    END IF;
    IF TG_OP = 'UPDATE' AND before = after THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('tweestap_liveness', jsonb_build_object(
        'table', TG_TABLE_NAME,
        'deleted', TG_OP = 'DELETE',
        'row', coalesce(after, before))::text);
    RETURN NULL;
END $$;
