-- The TOTP step of a login in one round trip (issue 27). Its code is checked in the service
-- (the authenticator's secret is sealed with a key PostgreSQL does not have) against the login
-- as the service saw it: read without locks, or handed on by the password step that opened the
-- login (``open_login``). One call then takes the login's locks as ``second_step_locked``
-- does, reads the login again under them and completes it only if it is what the service saw
-- (the SHA-256 of the view's row): a failure, a new factor, a cutoff or anything else the
-- checks read that changed in between returns no row, and the service goes the locked way.
-- The completion is static SQL, so each connection plans it once; it is the statement of
-- ``services.auth.adapters.repository`` with the TOTP spend, verbatim
-- (tests/integration/test_seen_steps.py fails when the two differ).

-- A login opened (the right guess's pending failure settled in the same call); at the second
-- factor step, the login's ``login_second_steps`` row as it is now.
CREATE FUNCTION open_login(
    login text, practice_id text, employee_id text, stage_at text, now_at timestamptz,
    expires timestamptz, passed uuid, asked boolean, needed text
) RETURNS SETOF login_second_steps
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    DELETE FROM login_failures WHERE event_id = passed;
    INSERT INTO logins (id, practice, employee, stage, created_at, expires_at, done,
                        second_factor, required_level)
    VALUES (login, practice_id, employee_id, stage_at, now_at, expires, stage_at = 'done',
            asked, needed);
    IF stage_at = 'second_factor' THEN
        RETURN QUERY SELECT * FROM login_second_steps s WHERE s.login_id = login;
    END IF;
END
$$;

-- A password-only login opened at ``password`` (the right guess's pending failure settled in
-- the same call) for the next call to complete; the employee's session cutoff, which the
-- session's start must follow.
CREATE FUNCTION open_password_login(
    login text, practice_id text, employee_id text, now_at timestamptz, expires timestamptz,
    passed uuid, asked boolean, needed text
) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM open_login(login, practice_id, employee_id, 'password', now_at, expires, passed,
                       asked, needed);
    RETURN (SELECT c.before FROM session_cutoffs c
            WHERE c.practice = practice_id AND c.employee = employee_id);
END
$$;

-- The completion of a TOTP step as the service saw the login. Parameters: $1 the login, $2
-- the practice, $3 the employee, $4 the username key, $5 now, $6 the outbox rows, $7 the
-- authenticator, $8 the time step, $9 the stages, $10 the SHA-256 of the row seen. No row:
-- the login is not open at one of the stages, or not as seen; else (spent, done) as the
-- statement answers.
CREATE FUNCTION complete_totp_seen(
    text, text, text, text, timestamptz, jsonb, text, bigint, text[], bytea
) RETURNS TABLE (step_spent boolean, login_done boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    seen_row login_second_steps;
BEGIN
    SELECT * INTO seen_row FROM second_step_locked($1, $9, $5, true);
    IF NOT FOUND OR sha256(convert_to(seen_row::text, 'UTF8')) <> $10 THEN
        RETURN;
    END IF;
    RETURN QUERY
WITH open_login AS (
               SELECT 1 FROM logins WHERE id = $1 AND NOT done AND expires_at > $5),
           spent AS (INSERT INTO totp_steps (practice, employee, factor, step)
           SELECT $2, $3, $7, $8 FROM open_login
           WHERE NOT EXISTS (SELECT 1 FROM totp_steps
                             WHERE practice = $2 AND employee = $3 AND step >= $8)
           ON CONFLICT DO NOTHING RETURNING 1),
           done AS (
               UPDATE logins SET stage = 'done', done = true
               WHERE id = $1 AND NOT done AND expires_at > $5 AND EXISTS (SELECT 1 FROM spent)
               RETURNING id), reset AS (
               INSERT INTO login_resets (practice, username, at)
               SELECT $2, $4, $5 FROM done
               ON CONFLICT (practice, username)
               DO UPDATE SET at = greatest(login_resets.at, EXCLUDED.at) RETURNING 1),
           forgotten AS (
               DELETE FROM login_failures
               WHERE practice = $2 AND username = $4 AND at <= $5
                 AND NOT pending AND EXISTS (SELECT 1 FROM done)
               RETURNING 1), seen AS (  -- the names are code's
               INSERT INTO last_logins (practice, employee, at)
               SELECT $2, $3, $5 FROM done
               ON CONFLICT (practice, employee)
               DO UPDATE SET at = greatest(last_logins.at, EXCLUDED.at) RETURNING 1), queued AS (INSERT INTO outbox (id, topic, key, payload) SELECT (r.x->>'id')::uuid, r.x->>'topic', r.x->>'key', r.x->'payload'
               FROM jsonb_array_elements($6::jsonb) WITH ORDINALITY AS r(x, n)
               WHERE EXISTS (SELECT 1 FROM done) ORDER BY r.n RETURNING pg_notify('outbox', '')), session AS (
               INSERT INTO sessions
                   (sid, practice, employee, zone, address, client_id, started_at, expires_at)
               SELECT d->>'sid', $2, $3, (SELECT zone FROM jsonb_array_elements($6::jsonb) AS e(x),
                  LATERAL (SELECT e.x->'payload' AS p) AS q,
                  LATERAL (SELECT p->'data' AS data, split_part(p->>'source', '@', 2) AS zone) AS f
                  WHERE p->>'type' = 'login.succeeded' LIMIT 1), d->'actor'->>'address',
                      d->>'client_id', (d->>'session_started_at')::timestamptz,
                      (d->>'session_expires_at')::timestamptz
               FROM (SELECT (SELECT data FROM jsonb_array_elements($6::jsonb) AS e(x),
                  LATERAL (SELECT e.x->'payload' AS p) AS q,
                  LATERAL (SELECT p->'data' AS data, split_part(p->>'source', '@', 2) AS zone) AS f
                  WHERE p->>'type' = 'login.succeeded' LIMIT 1) AS d) AS given
               WHERE EXISTS (SELECT 1 FROM done)
                 AND d ?& array['sid', 'session_started_at', 'session_expires_at']
               ON CONFLICT (sid) DO NOTHING
               RETURNING 1)
           SELECT EXISTS (SELECT 1 FROM spent) AS spent, EXISTS (SELECT 1 FROM done) AS done;
END
$$;
