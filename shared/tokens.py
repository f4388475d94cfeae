"""Verifying Tweestap tokens offline: EdDSA (Ed25519) JWTs signed by either zone's auth, checked
against the public keys from ``sts.keys``, in the RFC 9068 profile (header ``typ: at+jwt``,
``aud``, ``client_id``). Every service that accepts a bearer token uses this; only auth signs.

A valid signature says only that auth once issued the token: whether the session is still live
is :meth:`shared.gate.TokenGate.live_session`'s question."""

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
#: RFC 9068 §2.1: the ``typ`` header of a JWT access token (``application/at+jwt`` also counts).
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)


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

    def signed_claims(self, token: str, issuer: str, audience: str, leeway: int) -> dict[str, Any]:
        """The claims of a token signed by a known key, for ``issuer`` and ``audience``, of
        type ``at+jwt``, not expired. Signature only: says nothing about the session."""
        kid = self.kid_of(token)
        key = self._public.get(kid)
        if key is None:
            raise UnknownKey("unknown signing key")
        try:
            decoded = jwt.decode_complete(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=issuer,
                audience=audience,
                leeway=leeway,
                options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if not is_access_token_type(decoded["header"].get("typ")):
            raise InvalidToken("not an access token (typ at+jwt)")
        claims: dict[str, Any] = decoded["payload"]
        return claims


def is_access_token_type(typ: object) -> bool:
    """RFC 9068 §4: ``at+jwt`` or ``application/at+jwt``, case-insensitively."""
    if not isinstance(typ, str):
        return False
    return typ.lower().removeprefix("application/") == ACCESS_TOKEN_TYPE


def require_admin(claims: dict[str, Any], practice_id: str) -> None:
    """Only rights group 1 administers, and only its own practice."""
    if claims.get("practice") != practice_id:
        raise forbidden("This token belongs to another practice.")
    if claims.get("rg") != 1:
        raise forbidden("Only the practice administrator (rights group 1) may do this.")
