-- Practices and employees: written here (the directory's owner) and materialised from
-- directory.* (host systems and `tweestap bootstrap` write there too); last writer wins by
-- (version, updated_at, zone).
CREATE TABLE practices (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    email               text,
    two_factor_required boolean NOT NULL,
    policy              jsonb NOT NULL,
    version             int NOT NULL,
    updated_at          timestamptz NOT NULL,
    zone                text NOT NULL
);

-- No BSN in clear: only HMAC-SHA256 under the BSN key.
CREATE TABLE employees (
    practice     text NOT NULL,
    id           text NOT NULL,
    username     text NOT NULL,
    name         text NOT NULL,
    birth_date   date,
    email        text,
    phone        text,
    bsn_hash     text,
    rights_group int NOT NULL,
    in_service   boolean NOT NULL,
    version      int NOT NULL,
    updated_at   timestamptz NOT NULL,
    zone         text NOT NULL,
    PRIMARY KEY (practice, id)
);
CREATE UNIQUE INDEX employees_username ON employees (practice, lower(username));

-- `factors`: created by the replicated part (shared/replicas/migrations).

-- The enrolment wizard (not replicated: a wizard finishes in the zone that started it).
CREATE TABLE enrolments (
    id             text PRIMARY KEY,
    practice       text NOT NULL,
    employee       text NOT NULL,
    login_id       text NOT NULL,
    code_hash      text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    state          text NOT NULL
                   CHECK (state IN ('sent', 'identified', 'blocked', 'done', 'void')),
    failures       int NOT NULL DEFAULT 0,
    confirm_failures int NOT NULL DEFAULT 0,
    -- The TOTP secret shown at the identity step, sealed, until confirmed.
    sealed_secret  text,
    identified_at  timestamptz,
    blocked_at     timestamptz,
    finished_at    timestamptz,
    factor_id      text
);
CREATE INDEX enrolments_employee ON enrolments (practice, employee, created_at);

-- SMS/e-mail factors waiting for their confirmation code (code sealed, never hashed: a
-- six-digit hash falls to brute force). `sealed` is the factor's credential to publish.
CREATE TABLE pending_factors (
    id           text PRIMARY KEY,
    practice     text NOT NULL,
    employee     text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('sms', 'email')),
    sealed       text NOT NULL,
    sealed_code  text NOT NULL,
    sent_to      text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    attempts     int NOT NULL DEFAULT 0,
    state        text NOT NULL CHECK (state IN ('pending', 'done', 'void'))
);
CREATE INDEX pending_factors_employee ON pending_factors (practice, employee, created_at);

-- `public_keys`: created by the replicated part (shared/replicas/migrations).

-- `revocations`: created by the replicated part (shared/replicas/migrations).

-- `session_cutoffs`: created by the replicated part (shared/replicas/migrations).
