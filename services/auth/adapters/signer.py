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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from shared.tokens import ACCESS_TOKEN_TYPE, ALGORITHM, InvalidToken, TokenVerifier, UnknownKey

__all__ = ["ALGORITHM", "InvalidToken", "Signer", "SigningKey", "UnknownKey"]


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


class Signer(TokenVerifier):
    """Signs with this zone's current key; verifies with any zone's known public key."""

    def __init__(self, cache_size: int = 0) -> None:
        super().__init__(cache_size)
        self._signing: list[SigningKey] = []

    def set_signing_keys(self, keys: list[SigningKey]) -> None:
        self._signing = sorted(keys, key=lambda k: k.not_before)

    def current(self, now: datetime) -> SigningKey:
        usable = [k for k in self._signing if k.not_before <= now]
        if not usable:
            usable = self._signing[:1]
        if not usable:
            raise RuntimeError("this zone has no signing key")
        return usable[-1]

    def sign(self, claims: dict[str, Any], now: datetime) -> str:
        key = self.current(now)
        headers = {"kid": key.kid, "typ": ACCESS_TOKEN_TYPE}  # RFC 9068 §2.1
        token = jwt.encode(claims, key.private, algorithm=ALGORITHM, headers=headers)
        # Its next request (a renewal, an introspection) need not check what was just made.
        self.remember(token, claims)
        return token
