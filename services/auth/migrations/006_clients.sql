-- Relying services that may introspect tokens (RFC 7662 §2.1), replicated between the zones
-- over auth.credentials (sealed). Only the SHA-256 of each 256-bit secret is kept.
CREATE TABLE clients (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    secret_hash text NOT NULL,
    active      boolean NOT NULL,
    version     integer NOT NULL,
    updated_at  timestamptz NOT NULL,
    zone        text NOT NULL
);
