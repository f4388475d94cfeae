-- Exact lockout within a zone (DESIGN §5: serialise, count before the verdict). A password
-- guess reserves its failure row, pending, before argon2 runs (a crash mid-verify still
-- counts); the verdict settles it (a failure, announced as `login.failed` under the row's
-- event id) or deletes it (the right password). Rows from other zones arrive settled.
ALTER TABLE login_failures ADD COLUMN pending boolean NOT NULL DEFAULT false;

-- The advisory lock that serialises the attempts of one (practice, username) in this zone:
-- the password step, the second factors and the certificate fallback all take it.
CREATE FUNCTION attempt_lock_key(practice text, username text)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT hashtextextended('attempts:' || practice || ':' || username, 0)
$$;

-- The last used TOTP step of an employee (steps only go forward, over every factor and zone).
CREATE INDEX totp_steps_employee ON totp_steps (practice, employee, step);
