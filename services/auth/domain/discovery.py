"""The discovery document (``/.well-known/openid-configuration``, RFC 8414 / OpenID Connect
Discovery 1.0): what a relying service needs to verify Tweestap's tokens knowing only the
issuer URL — pure, built from the settings."""

from __future__ import annotations

from typing import Any

from shared.tokens import ALGORITHM, ENROL_SCOPE, SESSION_SCOPE

JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
INTROSPECTION_PATH = "/v1/tokens/introspect"
REVOCATION_PATH = "/v1/tokens/revoke"


def openid_configuration(issuer: str) -> dict[str, Any]:
    """The document for ``issuer`` (auth's public base URL, the tokens' ``iss``). Tokens are
    RFC 9068 access tokens (``typ`` at+jwt) signed with EdDSA (Ed25519). Introspection needs
    a registered client (HTTP Basic); revocation is the session's own logout (Bearer)."""
    base = issuer.rstrip("/")
    return {
        "issuer": issuer,
        "jwks_uri": base + JWKS_PATH,
        "introspection_endpoint": base + INTROSPECTION_PATH,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "revocation_endpoint": base + REVOCATION_PATH,
        "revocation_endpoint_auth_methods_supported": ["bearer"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "access_token_signing_alg_values_supported": [ALGORITHM],
        "scopes_supported": [SESSION_SCOPE, ENROL_SCOPE],
        "subject_types_supported": ["public"],
        "claims_supported": [
            *("iss", "aud", "client_id", "sub", "practice", "rg", "sid", "amr", "acr"),
            *("auth_time", "iat", "exp", "jti", "zone", "scope"),
        ],
    }
