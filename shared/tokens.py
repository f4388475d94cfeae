"""Verifying Tweestap tokens offline: EdDSA (Ed25519) JWTs signed by either zone's auth, checked
against the public keys from ``sts.keys``. Every service that accepts a bearer token uses this;
only auth signs."""

from __future__ import annotations

from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from shared.problems import forbidden

ALGORITHM = "EdDSA"
SESSION_SCOPE = "session"
ENROL_SCOPE = "enrol"
SINGLE_FACTOR_ACR = "aal1"
TWO_FACTOR_ACR = "aal2"
FALLBACK_ACR = "aal2-fallback"


class InvalidToken(Exception):
    """Signature, key, expiry or form of a token is not acceptable."""


class UnknownKey(InvalidToken):
    """Signed with a key id this process does not know (yet)."""


class TokenVerifier:
    """Verifies tokens with any zone's known public key."""

    def __init__(self) -> None:
        self._public: dict[str, Ed25519PublicKey] = {}

    def set_public_keys(self, jwks: list[dict[str, Any]]) -> None:
        public: dict[str, Ed25519PublicKey] = {}
        for jwk in jwks:
            key = OKPAlgorithm.from_jwk(jwk)
            if isinstance(key, Ed25519PublicKey):
                public[jwk["kid"]] = key
        self._public = public

    def add_public_key(self, jwk: dict[str, Any]) -> None:
        key = OKPAlgorithm.from_jwk(jwk)
        if isinstance(key, Ed25519PublicKey):
            self._public = {**self._public, jwk["kid"]: key}

    def knows(self, kid: str) -> bool:
        return kid in self._public

    def kid_of(self, token: str) -> str:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if not isinstance(kid, str):
            raise InvalidToken("token has no key id")
        return kid

    def verify(self, token: str, issuer: str, leeway: int) -> dict[str, Any]:
        kid = self.kid_of(token)
        key = self._public.get(kid)
        if key is None:
            raise UnknownKey("unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=issuer,
                leeway=leeway,
                options={"require": ["exp", "iat", "sub", "sid", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        return claims


def require_admin(claims: dict[str, Any], practice_id: str) -> None:
    """Only rights group 1 administers, and only its own practice."""
    if claims.get("practice") != practice_id:
        raise forbidden("This token belongs to another practice.")
    if claims.get("rg") != 1:
        raise forbidden("Only the practice administrator (rights group 1) may do this.")
