-- The OpenID Provider's state (docs/adr/0011).
--
-- A code is sealed and self-contained; only its spending is stored, here and in the other zone
-- (oidc.code.spent on auth.events), with the grant session its redemption began: a second
-- redemption ends that grant.
CREATE TABLE oidc_spent_codes (
    code_id    text PRIMARY KEY,
    grant_sid  text NOT NULL,
    practice   text NOT NULL,
    employee   text NOT NULL,
    spent_at   timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    zone       text NOT NULL
);
CREATE INDEX oidc_spent_codes_expiry ON oidc_spent_codes (expires_at);

-- A grant: the session one code redemption began for one client, linked to the SSO session
-- it came from. Its refresh tokens are a family; ``generation`` is the current one's and only
-- moves forward (``token_id`` tells two zones' rotations to the same generation apart).
CREATE TABLE oidc_grants (
    sid                text PRIMARY KEY,
    sso_sid            text NOT NULL,
    client_id          text NOT NULL,
    practice           text NOT NULL,
    employee           text NOT NULL,
    scope              text NOT NULL,
    auth_time          timestamptz NOT NULL,
    session_expires_at timestamptz NOT NULL,
    generation         bigint NOT NULL,
    token_id           text NOT NULL,
    updated_at         timestamptz NOT NULL,
    -- When this zone asked for the client's back-channel logout (null: not yet, or never
    -- needed: the grant has not ended).
    logout_requested_at timestamptz
);
CREATE INDEX oidc_grants_sso ON oidc_grants (sso_sid);
CREATE INDEX oidc_grants_open ON oidc_grants (practice, employee) WHERE logout_requested_at IS NULL;
CREATE INDEX oidc_grants_expiry ON oidc_grants (session_expires_at);

-- Step-up: a login an application asked a second factor of, though the practice does not
-- require one (acr_values).
ALTER TABLE logins ADD COLUMN second_factor boolean NOT NULL DEFAULT false;
