"""Signing keys of this zone and the public keys of every zone (``sts.keys``).

A zone has a current key of each algorithm it signs with: Ed25519 (EdDSA) for access tokens
and, as the relying parties may ask, for ID and logout tokens; RSA (RS256) for ID and logout
tokens, what every OpenID Connect library accepts (ADR 0011). Private keys rest sealed in this
zone's database. Tokens are signed with the newest key of their algorithm whose ``not_before``
has passed: a rotated-in key is published first and signs only after the lead time, so every
zone can verify it; a rotated-out key stays in every JWKS until the last token it could have
signed has expired.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
import pydantic_core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from jwt.utils import to_base64url_uint

from shared.tokens import (
    ACCESS_TOKEN_TYPE,
    ALGORITHM,
    EDDSA,
    RS256,
    SIGNING_ALGORITHMS,
    InvalidToken,
    SigningAlgorithm,
    TokenVerifier,
    UnknownKey,
    is_access_token_type,
)

__all__ = [
    "ALGORITHM",
    "RSA_BITS",
    "InvalidToken",
    "Signer",
    "SigningAlgorithm",
    "SigningKey",
    "UnknownKey",
]

#: The modulus of this zone's RSA keys. 2048 bits (112-bit strength, NIST SP 800-57 through
#: 2030) because a key only has to resist forgery while it is trusted: it signs for
#: ``TWEESTAP_KEY_ROTATION_DAYS`` and is forgotten a session later, and it encrypts nothing
#: that must stay secret for years. 3072 bits would cost three times as much per signature
#: (about 1 ms against 0.3 ms here) and four times as long to generate (about 140 ms against
#: 40 ms, with long tails), for strength that outlives the key by decades; 2048 is also what
#: the large providers' JWKS carry, so every relying-party library takes it.
RSA_BITS = 2048
_RSA_EXPONENT = 65537


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey | rsa.RSAPrivateKey
    not_before: datetime

    @functools.cached_property
    def alg(self) -> SigningAlgorithm:
        # Cached: an isinstance against the key's abstract class costs a few microseconds,
        # and every token signed asks (Signer.current).
        return RS256 if isinstance(self.private, rsa.RSAPrivateKey) else EDDSA

    @classmethod
    def generate(
        cls, zone: str, not_before: datetime, alg: SigningAlgorithm = ALGORITHM
    ) -> SigningKey:
        """A new key of ``alg`` (an RSA key takes tens of milliseconds: make it off the event
        loop, and only when one is due)."""
        kid = f"{zone}-{not_before:%Y%m%d}-{uuid.uuid4().hex[:8]}"
        if alg == RS256:
            return cls(kid, rsa.generate_private_key(_RSA_EXPONENT, RSA_BITS), not_before)
        if alg == EDDSA:
            return cls(kid, Ed25519PrivateKey.generate(), not_before)
        raise ValueError(f"no signing keys for {alg}")

    def private_bytes(self) -> bytes:
        """Ed25519: the 32 raw bytes (as keys were always stored); RSA: PKCS#8 DER."""
        if isinstance(self.private, rsa.RSAPrivateKey):
            return self.private.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        return self.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_private_bytes(
        cls, kid: str, raw: bytes, not_before: datetime, alg: SigningAlgorithm = ALGORITHM
    ) -> SigningKey:
        if alg == EDDSA:
            return cls(kid, Ed25519PrivateKey.from_private_bytes(raw), not_before)
        if alg != RS256:
            raise ValueError(f"no signing keys for {alg}")
        # The bytes are this zone's own, opened from their AES-GCM seal: OpenSSL's check of
        # the RSA key (about 40 ms per key, at every start and every key reload) adds nothing.
        key = serialization.load_der_private_key(raw, None, unsafe_skip_rsa_key_validation=True)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"signing key {kid} is not an RSA key")
        return cls(kid, key, not_before)

    def public_jwk(self) -> dict[str, str]:
        """The public half as the JWKS serves it (no ``key_ops``: ``use`` says it, RFC 7517
        §4.3)."""
        if isinstance(self.private, rsa.RSAPrivateKey):
            numbers = self.private.public_key().public_numbers()
            return {
                "kty": "RSA",
                "n": _b64_uint(numbers.n),
                "e": _b64_uint(numbers.e),
                "kid": self.kid,
                "use": "sig",
                "alg": RS256,
            }
        jwk: dict[str, str] = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": EDDSA}


def _b64_uint(value: int) -> str:
    """RFC 7518 §6.3.1: big-endian, the fewest octets, base64url without padding."""
    return to_base64url_uint(value).decode()


class Signer(TokenVerifier):
    """Signs with this zone's current key of an algorithm; verifies with any zone's known
    public key."""

    def __init__(self, cache_size: int = 0) -> None:
        super().__init__(cache_size)
        #: The signing keys of each algorithm, oldest ``not_before`` first.
        self._by_alg: dict[str, list[SigningKey]] = {}

    def set_signing_keys(self, keys: list[SigningKey]) -> None:
        by_alg: dict[str, list[SigningKey]] = {}
        for key in sorted(keys, key=lambda k: k.not_before):
            by_alg.setdefault(key.alg, []).append(key)
        self._by_alg = by_alg

    def current(self, now: datetime, alg: SigningAlgorithm = ALGORITHM) -> SigningKey:
        """The newest key of ``alg`` that signs at ``now`` (the oldest if none does yet)."""
        of_alg = self._by_alg.get(alg)
        if not of_alg:
            raise RuntimeError(f"this zone has no {alg} signing key")
        for key in reversed(of_alg):
            if key.not_before <= now:
                return key
        return of_alg[0]

    def sign(self, claims: dict[str, Any], now: datetime) -> str:
        """An access token: EdDSA, ``typ: at+jwt``."""
        key = self.current(now, ALGORITHM)
        headers = {"kid": key.kid, "typ": ACCESS_TOKEN_TYPE}  # RFC 9068 §2.1
        # PyJWS over the claims as compact JSON (pydantic's encoder): PyJWT's JWT layer would
        # only encode them again with the standard library. Its one other service, times
        # given as datetimes, is not wanted: a token's times are whole seconds already.
        if any(isinstance(claims.get(name), datetime) for name in ("exp", "iat", "nbf")):
            raise TypeError("token times are seconds since the epoch, not datetimes")
        token = jwt.api_jws.encode(
            pydantic_core.to_json(claims), key.private, algorithm=ALGORITHM, headers=headers
        )
        # Its next request (a renewal, an introspection) need not check what was just made.
        self.remember(token, claims)
        return token

    def sign_jwt(
        self, claims: dict[str, Any], now: datetime, *, alg: SigningAlgorithm, typ: str
    ) -> str:
        """Any JWT but an access token, e.g. an ID token (``typ`` :data:`~shared.tokens.
        ID_TOKEN_TYPE`) or a logout token (:data:`~shared.tokens.LOGOUT_TOKEN_TYPE`), signed
        with ``alg`` (RS256 or EdDSA) by this zone's current key of it; the claims as given.
        Not remembered as checked: only access tokens are."""
        if is_access_token_type(typ):
            raise ValueError("access tokens are signed by sign() (EdDSA only)")
        if alg not in SIGNING_ALGORITHMS:
            raise ValueError(f"no signing keys for {alg}")
        key = self.current(now, alg)
        return jwt.encode(claims, key.private, algorithm=alg, headers={"kid": key.kid, "typ": typ})
