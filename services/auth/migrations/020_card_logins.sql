-- Logins with a UZI-pas or PKIoverheid certificate (ADR 0013), this zone only like logins.
-- A card challenge: a nonce for practice software to sign with the card's key, once.
CREATE TABLE card_challenges (
    id         text PRIMARY KEY,
    practice   text,  -- the practice asked for, if any
    nonce      text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used       boolean NOT NULL DEFAULT false
);
CREATE INDEX card_challenges_expiry ON card_challenges (expires_at);

-- The web front door's statements already used: each logs in once.
CREATE TABLE card_statements (
    id         text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX card_statements_expiry ON card_statements (expires_at);
