-- A reserved guess also learns which of the failures before it are settled (their verdict
-- is in), not merely counted pending. Guesses in flight still bound how many are evaluated at
-- once, but only settled failures lock: a guess that finds the lockout filled by guesses
-- still being checked is answered 503 not-evaluated (come back), not 429 account-locked for
-- a guess no one evaluated (services/auth/use_cases/attempts.py).
DROP FUNCTION reserve_attempt(text, text, timestamptz, text, uuid, timestamptz);

CREATE FUNCTION reserve_attempt(
    practice_id text, key text, guessed_at timestamptz, zone_name text, attempt uuid,
    checked_against timestamptz
) RETURNS TABLE (reset_at timestamptz, failures timestamptz[], settled timestamptz[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    reset timestamptz;
    before timestamptz[];
    settled_before timestamptz[];
BEGIN
    PERFORM pg_advisory_xact_lock(attempt_lock_key(practice_id, key));
    SELECT r.at INTO reset FROM login_resets r WHERE r.practice = practice_id AND r.username = key;
    SELECT coalesce(array_agg(f.at ORDER BY f.at), '{}'),
           coalesce(array_agg(f.at ORDER BY f.at) FILTER (WHERE NOT f.pending), '{}')
      INTO before, settled_before
      FROM counted_failures f
     WHERE f.practice = practice_id AND f.username = key
       AND f.at > coalesce(reset, '-infinity');
    INSERT INTO login_failures (practice, username, at, zone, event_id, pending, against)
    VALUES (practice_id, key, guessed_at, zone_name, attempt, true, checked_against);
    RETURN QUERY SELECT reset, before, settled_before;
END
$$;
