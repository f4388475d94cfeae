-- A second factor decided on the login as it was read without locks (one statement, no
-- transaction around it, with a fingerprint of the whole row: the md5 of the row of
-- login_second_steps as text, repository.second_step_seen), then completed in one more
-- statement only if nothing it was decided on changed (services/auth/use_cases/second_step.py,
-- "at once"): the TOTP step in two round trips instead of BEGIN, the locked read, the
-- completion and COMMIT. Anything else (a wrong code, a step not fresh, a change in between)
-- goes the locked way, which decides again.

-- The login row locked, then the username's attempts (the order of second_step_locked), the
-- row read again under both locks (a statement of its own: a snapshot taken after the locks)
-- and, only when its fingerprint is still ``seen``, ``statement`` run: the completion of the
-- login, code's own (repository.complete_login's), with the login's id, practice, employee,
-- username, the time, the outbox rows and the spend's factor and step as $1..$8. It answers
-- (unchanged, spent, done); when not unchanged nothing was written.
CREATE FUNCTION complete_if_unchanged(
    login text, stages text[], now_at timestamptz, seen text, statement text,
    events jsonb, factor text, step bigint
) RETURNS TABLE (unchanged boolean, spent boolean, done boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    practice_id text;
    employee_id text;
    key text;
    now_seen text;
    was_spent boolean;
    was_done boolean;
BEGIN
    SELECT l.practice, l.employee, e.username_key INTO practice_id, employee_id, key
    FROM logins l JOIN employees e ON e.practice = l.practice AND e.id = l.employee
    WHERE l.id = login AND l.stage = ANY(stages) AND NOT l.done AND l.expires_at > now_at
    FOR UPDATE OF l;
    IF NOT FOUND THEN
        RETURN QUERY SELECT false, false, false;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(attempt_lock_key(practice_id, key));
    SELECT md5(s::text) INTO now_seen FROM login_second_steps s WHERE s.login_id = login;
    IF now_seen IS DISTINCT FROM seen THEN
        RETURN QUERY SELECT false, false, false;
        RETURN;
    END IF;
    EXECUTE statement INTO was_spent, was_done
        USING login, practice_id, employee_id, key, now_at, events, factor, step;
    RETURN QUERY SELECT true, was_spent, was_done;
END
$$;
