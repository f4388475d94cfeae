-- Practices and employees, materialised from directory.* (last writer wins).
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

CREATE TABLE employees (
    practice     text NOT NULL,
    id           text NOT NULL,
    username     text NOT NULL,
    name         text NOT NULL,
    email        text,
    rights_group int NOT NULL,
    in_service   boolean NOT NULL,
    version      int NOT NULL,
    updated_at   timestamptz NOT NULL,
    zone         text NOT NULL,
    PRIMARY KEY (practice, id)
);
CREATE UNIQUE INDEX employees_username ON employees (practice, lower(username));

-- Password credentials (hash and history sealed), replicated over auth.credentials.
CREATE TABLE credentials (
    practice    text NOT NULL,
    employee    text NOT NULL,
    sealed      text NOT NULL,
    changed_at  timestamptz NOT NULL,
    must_change boolean NOT NULL,
    strength    int NOT NULL,
    version     int NOT NULL,
    updated_at  timestamptz NOT NULL,
    zone        text NOT NULL,
    PRIMARY KEY (practice, employee)
);

-- Failed attempts per zone (a grow-only set, summed over zones) keyed on practice+username,
-- so unknown usernames lock exactly like known ones; a reset is a successful login's time.
CREATE TABLE login_failures (
    practice text NOT NULL,
    username text NOT NULL,
    at       timestamptz NOT NULL,
    zone     text NOT NULL,
    event_id uuid PRIMARY KEY
);
CREATE INDEX login_failures_key ON login_failures (practice, username, at);

CREATE TABLE login_resets (
    practice text NOT NULL,
    username text NOT NULL,
    at       timestamptz NOT NULL,
    PRIMARY KEY (practice, username)
);

CREATE TABLE last_logins (
    practice text NOT NULL,
    employee text NOT NULL,
    at       timestamptz NOT NULL,
    PRIMARY KEY (practice, employee)
);

-- The login transaction: the second step only accepts a login that passed the password step.
CREATE TABLE logins (
    id         text PRIMARY KEY,
    practice   text NOT NULL,
    employee   text NOT NULL,
    stage      text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    done       boolean NOT NULL DEFAULT false
);

-- This zone's signing keys (private part sealed) and every zone's public keys.
CREATE TABLE signing_keys (
    kid           text PRIMARY KEY,
    sealed        text NOT NULL,
    not_before    timestamptz NOT NULL,
    retire_at     timestamptz,
    created_at    timestamptz NOT NULL
);

-- `public_keys`: created by the replicated part (shared/replicas/migrations).

-- `revocations`: created by the replicated part (shared/replicas/migrations).
