-- Certificates for the fallback login, materialised from certs.events `certificate.upserted`
-- (last writer wins by (version, updated_at, zone)): what a fallback needs, and no key.
CREATE TABLE certificates (
    practice        text NOT NULL,
    nr              text NOT NULL,
    fingerprint     text NOT NULL,
    certificate_pem text NOT NULL,
    subject         text NOT NULL,
    not_before      timestamptz NOT NULL,
    not_after       timestamptz NOT NULL,
    type            text NOT NULL,
    grants          jsonb NOT NULL,
    removed         boolean NOT NULL,
    -- RSA or EC: a key that can sign the fallback's nonce as auth checks it.
    signing_key     boolean NOT NULL,
    version         int NOT NULL,
    updated_at      timestamptz NOT NULL,
    zone            text NOT NULL,
    PRIMARY KEY (practice, nr)
);
CREATE INDEX certificates_fingerprint ON certificates (practice, fingerprint) WHERE NOT removed;

-- Nonces handed out for a login's certificate fallback (this zone only, like logins). Only the
-- newest of a login counts, once.
CREATE TABLE fallback_challenges (
    id         uuid PRIMARY KEY,
    login_id   text NOT NULL,
    nonce      text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used       boolean NOT NULL DEFAULT false
);
CREATE INDEX fallback_challenges_login ON fallback_challenges (login_id, created_at);

-- Fallback logins per employee: a grow-only set, the union of every zone's
-- (auth.events `fallback.used`, the event id is the use), counted over 30 days.
CREATE TABLE fallback_uses (
    id          uuid PRIMARY KEY,
    practice    text NOT NULL,
    employee    text NOT NULL,
    certificate text NOT NULL,
    at          timestamptz NOT NULL,
    zone        text NOT NULL
);
CREATE INDEX fallback_uses_employee ON fallback_uses (practice, employee, at);

-- Whether `employee` may use certificate `c` for the fallback at `at`: the one definition the
-- queries share (the same rule as services/auth/domain/fallback.py `refusal`).
CREATE FUNCTION fallback_usable(c certificates, employee text, at timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT NOT c.removed AND c.signing_key AND c.type = 'personal' AND c.grants ? employee
           AND c.not_before <= at AND c.not_after > at
$$;
