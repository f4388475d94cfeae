-- Passkey registrations: the WebAuthn challenge of each `POST /v1/factors/passkey/options`,
-- answered once (used_at) before expires_at. Not replicated: a registration finishes in the
-- zone that made its options (the challenge is not a secret; it only has to be fresh).
CREATE TABLE passkey_registrations (
    id         text PRIMARY KEY,
    practice   text NOT NULL,
    employee   text NOT NULL,
    challenge  bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX passkey_registrations_expiry ON passkey_registrations (expires_at);
