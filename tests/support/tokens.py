"""Tokens in tests: the bearer header, renewal and introspection at auth, a session token
signed with a zone's own key (as auth issues it), and verification with ``cryptography`` alone."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.auth.domain import tokens
from services.auth.http import CLIENTS
from shared.assurance import LOA
from shared.events import utcnow
from shared.tokens import ALGORITHM
from tests.support.cluster import Zone


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_jwks(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify an EdDSA JWT with `cryptography` alone: no code shared with the signer."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(_b64(header_b64))
    assert header["alg"] == "EdDSA"
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    key = Ed25519PublicKey.from_public_bytes(_b64(jwk["x"]))
    key.verify(_b64(signature_b64), f"{header_b64}.{payload_b64}".encode())
    claims: dict[str, Any] = json.loads(_b64(payload_b64))
    return claims


def signing_kid(auth: Zone) -> str:
    """The key ``auth`` signs access tokens with now: a service checks its tokens once it has
    this key (any key of the zone is not enough: its RSA key may arrive first)."""
    return auth.auth.signer.current(utcnow(), ALGORITHM).kid


async def knows_tokens_of(
    pool: asyncpg.Pool, auth: Zone, practice: str | None = None, employee: str | None = None
) -> bool:
    """Whether the service of ``pool`` can check ``auth``'s tokens (for ``employee`` of
    ``practice``, when given): it has the key ``auth`` signs with now, the practice and the
    employee."""
    known: bool = await pool.fetchval(
        """SELECT EXISTS (SELECT 1 FROM public_keys WHERE kid = $1)
              AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM practices WHERE id = $2))
              AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM employees
                                              WHERE practice = coalesce($2, practice)
                                                AND id = $3))""",
        signing_kid(auth),
        practice,
        employee,
    )
    return known


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def renew(zone: Zone, token: str) -> tuple[int, dict[str, Any]]:
    response = await zone.client.post("/v1/tokens/renew", headers=bearer(token))
    return response.status, await response.json(content_type=None)


async def introspect(zone: Zone, token: str) -> dict[str, Any]:
    """As a registered relying service (RFC 7662 §2.1)."""
    secret = await zone.app[CLIENTS].add("relying-service", "Relying service")
    auth = {"Authorization": aiohttp.encode_basic_auth("relying-service", secret)}
    response = await zone.client.post("/v1/tokens/introspect", json={"token": token}, headers=auth)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


def forge_session(zone: Zone, employee: str, auth_age: timedelta, aal: str = "aal1") -> str:
    """A token for a session of ``aal`` that started ``auth_age`` ago, signed by the zone's own
    key (as a renewal long after login would be), valid for one more minute even past the cap
    of its kind."""
    now = utcnow()
    session = tokens.Session.new("fysio", employee, 1, ("pwd",), "aal1", now - auth_age, "low")
    grant = tokens.grant(
        session,
        tokens.Lifetimes(timedelta(minutes=1), timedelta(days=2)),
        zone.settings.issuer,
        "a",
        now,
        audience=zone.settings.token_audience,
        client_id=zone.settings.token_client_id,
    )
    if aal == tokens.SINGLE_FACTOR_AAL:
        return zone.auth.signer.sign(grant.claims, now)
    kind = {"aal": aal, "acr": LOA["substantial"], "amr": ["pwd", "otp"]}
    return zone.auth.signer.sign({**grant.claims, **kind}, now)


def session_token(
    zone: Zone,
    employee: str,
    practice: str = "fysio",
    rights_group: int = 2,
    aal: str = "aal2",
    amr: Sequence[str] = ("pwd", "otp"),
    auth_time: datetime | None = None,
    precise: bool = False,
    lifetime: int = 3600,
) -> str:
    """A session token as auth (``zone``) issues it after a two-factor login, signed with its
    key, valid ``lifetime`` seconds (with ``precise``, ``auth_time`` keeps its fraction of a
    second)."""
    now = utcnow()
    started = (auth_time or now).timestamp()
    claims = {
        "iss": zone.settings.issuer,
        "aud": zone.settings.token_audience,
        "sub": employee,
        "practice": practice,
        "rg": rights_group,
        "sid": uuid.uuid4().hex,
        "amr": list(amr),
        "aal": aal,
        "acr": LOA["low" if aal == tokens.SINGLE_FACTOR_AAL else "substantial"],
        "auth_time": started if precise else int(started),
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + lifetime,
        "jti": uuid.uuid4().hex,
        "zone": zone.settings.zone,
        "scope": "session",
    }
    token: str = zone.auth.signer.sign(claims, now)
    return token


async def change_own_password(
    zone: Zone, token: str, current: str, new: str
) -> tuple[int, dict[str, Any]]:
    """The employee of ``token`` changes their own password in ``zone``: the answer's status
    and body (on success a new session's token: the change ends every other session)."""
    response = await zone.client.post(
        "/v1/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(token),
    )
    return response.status, await response.json(content_type=None)
