-- `factors`: created by the replicated part (shared/replicas/migrations).

-- Used TOTP time steps: a grow-only set, the union of every zone's (auth.events `totp.used`)
-- and each factor's confirmation step. A step is accepted at most once per factor.
CREATE TABLE totp_steps (
    practice text NOT NULL,
    employee text NOT NULL,
    factor   text NOT NULL,
    step     bigint NOT NULL,
    PRIMARY KEY (practice, employee, factor, step)
);
CREATE INDEX totp_steps_step ON totp_steps (step);

-- SMS and e-mail login codes (this zone only, like logins); the code is sealed with
-- associated data login-code:{practice}:{employee}:{id}.
CREATE TABLE login_codes (
    id         uuid PRIMARY KEY,
    login_id   text NOT NULL,
    practice   text NOT NULL,
    employee   text NOT NULL,
    channel    text NOT NULL,
    sealed     text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts   int NOT NULL DEFAULT 0,
    used       boolean NOT NULL DEFAULT false
);
CREATE INDEX login_codes_login ON login_codes (login_id, channel, created_at);
CREATE INDEX login_codes_sends ON login_codes (practice, employee, created_at);

-- `session_cutoffs`: created by the replicated part (shared/replicas/migrations).
