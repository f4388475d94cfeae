"""Token signing in unit tests: an issuer and audience, a token's claims, a signer of one key
and a verifier's check."""

from __future__ import annotations

import time
from typing import Any

from services.auth.adapters.signer import Signer, SigningKey
from shared.tokens import TokenVerifier

ISSUER = "https://tweestap.nl"
AUDIENCE = "https://tweestap.nl/api"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "emp-1",
        "practice": "fysio",
        "sid": "s" * 32,
        "iat": now,
        "exp": now + 3600,
    }
    return {**base, **overrides}


def signer(key: SigningKey, cache_size: int = 100) -> Signer:
    s = Signer(cache_size)
    s.set_signing_keys([key])
    s.set_public_keys([key.public_jwk()])
    return s


def check(v: TokenVerifier, token: str, audience: str = AUDIENCE) -> dict[str, Any]:
    return v.signed_claims(token, ISSUER, audience, 0)
