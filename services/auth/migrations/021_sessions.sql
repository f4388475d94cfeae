-- Each employee's sessions, where and since when (issue 25: "where am I logged in"): one row
-- per login, this zone's written with the login, the other zone's from its `login.succeeded`.
-- Whether one still lives is read beside `revocations` and `session_cutoffs`; a row past its
-- session's end is forgotten by housekeeping.
CREATE TABLE sessions (
    sid        text PRIMARY KEY,
    practice   text NOT NULL,
    employee   text NOT NULL,
    zone       text NOT NULL,
    address    text,  -- the client address of the login's request
    client_id  text,  -- an application's (OpenID Connect); none: a login of its own
    started_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_employee ON sessions (practice, employee);
CREATE INDEX sessions_expiry ON sessions (expires_at);
