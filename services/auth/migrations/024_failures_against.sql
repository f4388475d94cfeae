-- A failure names the credential it was checked against (its ``changed_at``; NULL for an
-- unknown username and for a second factor), and replicates with it (``login.failed``'s
-- ``against``). A zone not yet told of a new password checks the new password against the old
-- one: such a failure says nothing about the new password. Once a zone knows a credential
-- that replaced the one a guess was checked against before the guess was made, the failure no
-- longer counts toward the lockout, in every zone alike (docs/chaos.md). A guess made before
-- the change, or in a zone that is told, counts as ever; while a zone is not told, its
-- failures count there as they must (it cannot tell a stale zone from an attacker).
ALTER TABLE login_failures ADD COLUMN against timestamptz;

-- The failures that count toward a username's lockout (every reader of the lockout reads
-- these, never ``login_failures`` itself).
CREATE VIEW counted_failures AS
SELECT f.*
FROM login_failures f
WHERE f.against IS NULL
   OR NOT EXISTS (
       SELECT 1
       FROM employees e
       JOIN credentials c ON c.practice = e.practice AND c.employee = e.id
       WHERE e.practice = f.practice AND e.username_key = f.username
         AND c.changed_at > f.against AND c.changed_at <= f.at);

DROP FUNCTION reserve_attempt(text, text, timestamptz, text, uuid);

-- As in migration 023, and the pending row names the credential it is checked against.
CREATE FUNCTION reserve_attempt(
    practice_id text, key text, guessed_at timestamptz, zone_name text, attempt uuid,
    checked_against timestamptz
) RETURNS TABLE (reset_at timestamptz, failures timestamptz[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    reset timestamptz;
    before timestamptz[];
BEGIN
    PERFORM pg_advisory_xact_lock(attempt_lock_key(practice_id, key));
    SELECT r.at INTO reset FROM login_resets r WHERE r.practice = practice_id AND r.username = key;
    before := ARRAY(SELECT f.at FROM counted_failures f
                    WHERE f.practice = practice_id AND f.username = key
                      AND f.at > coalesce(reset, '-infinity')
                    ORDER BY f.at);
    INSERT INTO login_failures (practice, username, at, zone, event_id, pending, against)
    VALUES (practice_id, key, guessed_at, zone_name, attempt, true, checked_against);
    RETURN QUERY SELECT reset, before;
END
$$;

-- As in migration 023, with the counted failures.
CREATE OR REPLACE VIEW login_second_steps AS
SELECT l.id AS login_id, l.stage, l.done, l.expires_at, l.required_level,
       p.id, p.name, p.two_factor_required, p.policy, p.assurance,
       e.id AS employee_id, e.username, e.username_key, e.name AS employee_name, e.email,
       e.rights_group, e.in_service,
       (SELECT r.at FROM login_resets r
        WHERE r.practice = l.practice AND r.username = e.username_key) AS reset_at,
       ARRAY(SELECT f.at FROM counted_failures f
             WHERE f.practice = l.practice AND f.username = e.username_key
             ORDER BY f.at) AS failures,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                     'id', x.id, 'kind', x.kind, 'sealed', x.sealed,
                     'version', x.version, 'confirmed_step', x.confirmed_step)
                   ORDER BY x.created_at DESC, x.id)
                 FROM factors x
                 WHERE x.practice = l.practice AND x.employee = l.employee
                   AND x.active), '[]'::jsonb) AS factors,
       (SELECT c.before FROM session_cutoffs c
        WHERE c.practice = l.practice AND c.employee = l.employee) AS cutoff
FROM logins l
JOIN employees e ON e.practice = l.practice AND e.id = l.employee
JOIN practices p ON p.id = l.practice;

DROP FUNCTION second_step_locked(text, text[], timestamptz);

-- The open login at one of ``stages``, its row locked until the caller's transaction ends;
-- with ``serialise`` then its username's attempts too (always in this order), read after both
-- locks are held. No row when the login is not open at one of the stages. (It replaces
-- migration 023's function and the same query kept in the code for the unserialised case.)
CREATE FUNCTION second_step_locked(
    login text, stages text[], now_at timestamptz, serialise boolean
) RETURNS SETOF login_second_steps
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    practice_id text;
    key text;
BEGIN
    SELECT l.practice, e.username_key INTO practice_id, key
    FROM logins l JOIN employees e ON e.practice = l.practice AND e.id = l.employee
    WHERE l.id = login AND l.stage = ANY(stages) AND NOT l.done AND l.expires_at > now_at
    FOR UPDATE OF l;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF serialise THEN
        PERFORM pg_advisory_xact_lock(attempt_lock_key(practice_id, key));
    END IF;
    RETURN QUERY SELECT * FROM login_second_steps s
                 WHERE s.login_id = login AND s.stage = ANY(stages) AND NOT s.done
                   AND s.expires_at > now_at;
END
$$;
