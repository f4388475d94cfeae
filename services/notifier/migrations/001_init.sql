-- Practices, materialised from directory.practices: the sender address of their e-mail.
CREATE TABLE practices (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    email      text,
    version    int NOT NULL,
    updated_at timestamptz NOT NULL,
    zone       text NOT NULL
);

-- The delivery queue (one row per request id): received → sending (attempt recorded before
-- the send, with a lease) → delivered | failed. Sealed parameters stay sealed here.
CREATE TABLE messages (
    request_id      uuid PRIMARY KEY,
    practice        text NOT NULL,
    channel         text NOT NULL,
    template        text NOT NULL,
    locale          text NOT NULL,
    recipient       text NOT NULL,
    parameters      jsonb NOT NULL,
    sealed          jsonb NOT NULL,
    requested_at    timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('queued', 'sending', 'delivered', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    last_error      text,
    delivered_at    timestamptz,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX messages_recipient ON messages (recipient, updated_at)
    WHERE status IN ('sending', 'delivered');
