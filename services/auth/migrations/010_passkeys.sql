-- Passkey login (WebAuthn): the challenge a login's passkey step must answer (this zone only,
-- like logins; the newest of a login counts, once), and the highest signature counter this
-- zone has accepted per passkey (a counter at or below it is refused: a cloned authenticator).
-- The counter is per zone and not replicated: in either zone it only goes forward.
CREATE TABLE passkey_challenges (
    login_id   text PRIMARY KEY,
    challenge  text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used       boolean NOT NULL DEFAULT false
);

CREATE TABLE passkey_counters (
    practice   text NOT NULL,
    factor     text NOT NULL,
    sign_count bigint NOT NULL,
    used_at    timestamptz NOT NULL,
    PRIMARY KEY (practice, factor)
);
