"""Ed25519 signing keys of this zone and the public keys of every zone (``sts.keys``).

Private keys rest sealed in this zone's database. Tokens are signed with the newest key whose
``not_before`` has passed: a rotated-in key is published first and signs only after the lead
time, so every zone can verify it; a rotated-out key stays in every JWKS until the last token it
could have signed has expired.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

ALGORITHM = "EdDSA"


class InvalidToken(Exception):
    """Signature, key, expiry or form of a token is not acceptable."""


class UnknownKey(InvalidToken):
    """Signed with a key id this process does not know (yet)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    not_before: datetime

    @classmethod
    def generate(cls, zone: str, not_before: datetime) -> SigningKey:
        kid = f"{zone}-{not_before:%Y%m%d}-{uuid.uuid4().hex[:8]}"
        return cls(kid, Ed25519PrivateKey.generate(), not_before)

    def private_bytes(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_private_bytes(cls, kid: str, raw: bytes, not_before: datetime) -> SigningKey:
        return cls(kid, Ed25519PrivateKey.from_private_bytes(raw), not_before)

    def public_jwk(self) -> dict[str, str]:
        jwk: dict[str, str] = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


class Signer:
    """Signs with this zone's current key; verifies with any zone's known public key."""

    def __init__(self) -> None:
        self._signing: list[SigningKey] = []
        self._public: dict[str, Ed25519PublicKey] = {}

    def set_signing_keys(self, keys: list[SigningKey]) -> None:
        self._signing = sorted(keys, key=lambda k: k.not_before)

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

    def current(self, now: datetime) -> SigningKey:
        usable = [k for k in self._signing if k.not_before <= now]
        if not usable:
            usable = self._signing[:1]
        if not usable:
            raise RuntimeError("this zone has no signing key")
        return usable[-1]

    def sign(self, claims: dict[str, Any], now: datetime) -> str:
        key = self.current(now)
        return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})

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
