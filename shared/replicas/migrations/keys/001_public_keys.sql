-- Part `keys` (shared/replicas/keys.py): every zone's public signing keys from sts.keys,
-- accepted when signed by the deployment's trust key. (A database made before the parts
-- existed has the table from its service's own first migration: nothing to do.)
CREATE TABLE IF NOT EXISTS public_keys (
    kid        text PRIMARY KEY,
    zone       text NOT NULL,
    jwk        jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    retire_at  timestamptz
);
