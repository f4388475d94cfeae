-- ADR 0011: a zone signs with an RSA key (RS256, ID and logout tokens) beside its Ed25519 key
-- (EdDSA, access tokens). Each algorithm has its own current key, rotated and retired on the
-- same rules. Keys stored before are Ed25519 and stay as they are; the default keeps an older
-- auth (one that names no algorithm) writing Ed25519 keys during an upgrade.
ALTER TABLE signing_keys
    ADD COLUMN alg text NOT NULL DEFAULT 'EdDSA' CHECK (alg IN ('EdDSA', 'RS256'));

-- The newest live key of each algorithm: what rotation looks for.
CREATE INDEX signing_keys_live ON signing_keys (alg, not_before) WHERE retire_at IS NULL;
