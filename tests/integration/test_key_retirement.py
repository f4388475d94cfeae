"""Hardening II finding 16: a signing key is never trusted at or after its ``retire_at``.

Real auth, enrolment and certs of one zone (the ``rig`` of tests.support.services), the real
broker and PostgreSQL. The announcements are genuinely signed with the deployment's trust key:
what is tested is the retirement, not the trust check."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.events import Envelope, utcnow
from shared.trust import TrustSigner
from tests.support import services
from tests.support.cluster import TRUST_PRIVATE, wait_for
from tests.support.forgery import forged_calls, forged_key, token_refused
from tests.support.services import P, Rig

rig = services.rig  # the fixture: auth, enrolment and certs of zone a with an administrator

TRUST = TrustSigner(TRUST_PRIVATE)


def announcement(kid: str, jwk: dict[str, Any], retire_at: datetime) -> Envelope:
    """``sts.key.published`` as auth makes it: signed with the deployment's trust key."""
    data = {
        "kid": kid,
        "zone": "a",
        "jwk": jwk,
        "created_at": (utcnow() - timedelta(days=1)).isoformat(),
        "retire_at": retire_at.isoformat(),
    }
    return Envelope(
        type="sts.key.published", source="auth@a", practice="*", subject=kid, data=TRUST.sign(data)
    )


async def announce(rig: Rig, retire_at: datetime) -> tuple[str, Ed25519PrivateKey]:
    """A new key of zone a announced on ``sts.keys`` with ``retire_at``, once every service
    has stored it (the table keeps the record, retired or not)."""
    kid = f"a-{uuid.uuid4().hex[:8]}"
    private, jwk = forged_key(kid)
    await rig.produce("sts.keys", announcement(kid, jwk, retire_at))

    async def stored_everywhere() -> bool:
        for service in rig.zones:
            if not await rig.pool(service).fetchval(
                "SELECT 1 FROM public_keys WHERE kid = $1", kid
            ):
                return False
        return True

    await wait_for(stored_everywhere)
    return kid, private


def signed_with(rig: Rig, kid: str, private: Ed25519PrivateKey) -> str:
    """The administrator's real token (live session, two factors where needed) re-signed with
    ``private``: only the key differs."""
    claims = jwt.decode(rig.admin_token, options={"verify_signature": False})
    header = jwt.get_unverified_header(rig.admin_token)
    return jwt.encode(claims, private, algorithm="EdDSA", headers={**header, "kid": kid})


async def read_calls(rig: Rig, token: str) -> dict[str, bool]:
    """Did auth, enrolment and certs each let ``token`` through (calls that change nothing)?"""
    calls = (
        ("auth renew", "auth", "POST", "/v1/tokens/renew"),
        ("enrolment employees", "enrolment", "GET", f"/v1/practices/{P}/employees"),
        ("certs certificates", "certs", "GET", f"/v1/practices/{P}/certificates"),
    )
    return {
        name: not token_refused(*await rig.call(service, method, path, token))
        for name, service, method, path in calls
    }


async def test_a_key_announced_already_retired_verifies_no_token(rig: Rig) -> None:
    kid, private = await announce(rig, utcnow() - timedelta(minutes=1))
    for service in rig.zones:
        retire_at = await rig.pool(service).fetchval(
            "SELECT retire_at FROM public_keys WHERE kid = $1", kid
        )
        assert retire_at is not None and retire_at < utcnow(), (service, retire_at)
    through = await forged_calls(rig, signed_with(rig, kid, private))
    taken = [name for name, ok in through.items() if ok]
    assert not taken, f"a token of a retired key was accepted by {taken}"


async def test_a_key_is_refused_from_its_retire_at_without_a_reload(rig: Rig) -> None:
    retire_at = utcnow() + timedelta(seconds=8)
    kid, private = await announce(rig, retire_at)
    token = signed_with(rig, kid, private)
    assert utcnow() < retire_at - timedelta(seconds=1), "the key settled too slowly to test"
    before = await read_calls(rig, token)
    assert all(before.values()), f"refused before its retire_at: {before}"
    await asyncio.sleep((retire_at - utcnow()).total_seconds() + 0.1)
    # The same token again (each process remembers a token it checked), and no reload between.
    after = await read_calls(rig, token)
    taken = [name for name, ok in after.items() if ok]
    assert not taken, f"a token of a retired key was accepted after its retire_at by {taken}"
