"""The discovery document (``/.well-known/openid-configuration``, RFC 8414 / OpenID Connect
Discovery 1.0): what an application needs to log people in and verify Tweestap's tokens
knowing only the issuer URL — pure, built from the settings.

Every endpoint is under the issuer: the web front door serves the provider's endpoints and
relays the OAuth ones to auth in either zone (docs/adr/0011)."""

from __future__ import annotations

from typing import Any

from shared.oidc import ACR_RANK, SCOPE_CLAIMS
from shared.tokens import ALGORITHM, ENROL_SCOPE, SESSION_SCOPE, SIGNING_ALGORITHMS

JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
INTROSPECTION_PATH = "/v1/tokens/introspect"
REVOCATION_PATH = "/v1/tokens/revoke"
#: The provider's endpoints at the issuer (the web front door).
AUTHORIZATION_PATH = "/authorize"
TOKEN_PATH = "/token"  # noqa: S105 (a path)
PAR_PATH = "/par"
USERINFO_PATH = "/userinfo"
OAUTH_REVOCATION_PATH = "/revoke"
END_SESSION_PATH = "/end-session"
CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt", "none"]


def openid_configuration(issuer: str) -> dict[str, Any]:
    """The document for ``issuer`` (the deployment's public base URL, the tokens' ``iss``).
    Access tokens are RFC 9068 tokens (``typ`` at+jwt) signed with EdDSA; ID tokens RS256 or
    EdDSA as the client was registered. Authorization code with PKCE (S256) only."""
    base = issuer.rstrip("/")
    return {
        "issuer": issuer,
        "authorization_endpoint": base + AUTHORIZATION_PATH,
        "pushed_authorization_request_endpoint": base + PAR_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "userinfo_endpoint": base + USERINFO_PATH,
        "jwks_uri": base + JWKS_PATH,
        "end_session_endpoint": base + END_SESSION_PATH,
        "revocation_endpoint": base + OAUTH_REVOCATION_PATH,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint": base + INTROSPECTION_PATH,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "require_pushed_authorization_requests": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "id_token_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "access_token_signing_alg_values_supported": [ALGORITHM],
        "scopes_supported": [*SCOPE_CLAIMS, SESSION_SCOPE, ENROL_SCOPE],
        "subject_types_supported": ["public"],
        "acr_values_supported": list(ACR_RANK),
        "prompt_values_supported": ["none", "login"],
        "ui_locales_supported": ["nl", "en"],
        "claims_parameter_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "claims_supported": [
            *("iss", "aud", "client_id", "sub", "practice", "rg", "sid", "amr", "acr"),
            *("auth_time", "iat", "exp", "jti", "zone", "scope", "nonce", "azp"),
            *("name", "preferred_username", "email"),
        ],
    }
