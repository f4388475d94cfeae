-- A login's locks and the reads made under them, in one round trip each (issue 27). The
-- attempts of a username are serialised by an advisory lock, and what the lockout is computed
-- from must be read after that lock is held: a later statement, or (here) a later query of a
-- VOLATILE function, which takes a fresh snapshot for each query it runs (READ COMMITTED).

-- A password guess counted pending before its verdict, under the username's lock (until the
-- caller's transaction ends), and the username's failures and latest reset as they were before
-- it. Called outside a transaction, the lock lasts this statement and the row commits with it;
-- a caller that finds the username locked drops the row again (or rolls its transaction back).
CREATE FUNCTION reserve_attempt(
    practice_id text, key text, guessed_at timestamptz, zone_name text, attempt uuid
) RETURNS TABLE (reset_at timestamptz, failures timestamptz[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    reset timestamptz;
    before timestamptz[];
BEGIN
    PERFORM pg_advisory_xact_lock(attempt_lock_key(practice_id, key));
    SELECT r.at INTO reset FROM login_resets r WHERE r.practice = practice_id AND r.username = key;
    before := ARRAY(SELECT f.at FROM login_failures f
                    WHERE f.practice = practice_id AND f.username = key
                      AND f.at > coalesce(reset, '-infinity')
                    ORDER BY f.at);
    INSERT INTO login_failures (practice, username, at, zone, event_id, pending)
    VALUES (practice_id, key, guessed_at, zone_name, attempt, true);
    RETURN QUERY SELECT reset, before;
END
$$;

-- An open login at its second step with what the step needs: the employee, the practice, the
-- employee's active factors, the username's failures and reset, and the session cutoff.
CREATE VIEW login_second_steps AS
SELECT l.id AS login_id, l.stage, l.done, l.expires_at, l.required_level,
       p.id, p.name, p.two_factor_required, p.policy, p.assurance,
       e.id AS employee_id, e.username, e.username_key, e.name AS employee_name, e.email,
       e.rights_group, e.in_service,
       (SELECT r.at FROM login_resets r
        WHERE r.practice = l.practice AND r.username = e.username_key) AS reset_at,
       ARRAY(SELECT f.at FROM login_failures f
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

-- The open login at one of ``stages``, its row locked, then its username's attempts (always in
-- this order), until the caller's transaction ends; read after both locks are held. No row when
-- the login is not open at one of the stages.
CREATE FUNCTION second_step_locked(login text, stages text[], now_at timestamptz)
RETURNS SETOF login_second_steps
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
    PERFORM pg_advisory_xact_lock(attempt_lock_key(practice_id, key));
    RETURN QUERY SELECT * FROM login_second_steps s
                 WHERE s.login_id = login AND s.stage = ANY(stages) AND NOT s.done
                   AND s.expires_at > now_at;
END
$$;
