-- Registered clients become OpenID Connect clients too (docs/adr/0011): redirect URIs (exact
-- match), post-logout redirect URIs, a back-channel logout URI, how the client authenticates
-- (a secret, a signed assertion by the keys at its jwks_uri, or none: a public client with
-- PKCE) and the algorithm of its ID tokens. A client without a secret has no secret_hash.
ALTER TABLE clients ALTER COLUMN secret_hash DROP NOT NULL;
ALTER TABLE clients ADD COLUMN redirect_uris jsonb NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris jsonb NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri text;
ALTER TABLE clients ADD COLUMN auth_method text NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE clients ADD COLUMN jwks_uri text;
ALTER TABLE clients ADD COLUMN id_token_alg text NOT NULL DEFAULT 'RS256';
