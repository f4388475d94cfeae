"""Changing one's own sign-in methods needs a recent strong login (Hardening II, finding 6).

Real auth and enrolment of one zone. The sessions are signed by auth's own key, as auth signs
them after a login: a certificate fallback login (``aal2-fallback``), a two-factor login long
ago, and a fresh two-factor login."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from tests.support.cluster import Cluster, Zone, pool, wait_for
from tests.support.tokens import bearer, forge_session, knows_tokens_of

P = "fysio"
#: Every call that changes the caller's own factors.
CHANGES: tuple[tuple[str, Any], ...] = (
    ("/v1/recovery-code", None),
    ("/v1/factors/passkey/options", {}),
    ("/v1/factors/sms", {"phone": "+31612345678"}),
    ("/v1/factors/email", {"email": "anna@fysio.example"}),
)


async def post(zone: Zone, path: str, body: Any, token: str) -> tuple[int, dict[str, Any]]:
    response = await zone.client.post(path, json=body, headers=bearer(token))
    return response.status, await response.json(content_type=None)


async def rig(cluster: Cluster) -> tuple[Zone, Zone, str]:
    auth = await cluster.start("a")
    enrolment = await cluster.start("a", "enrolment", factor_change_max_age_seconds=600)
    admin = await cluster.bootstrap(auth)

    await wait_for(functools.partial(knows_tokens_of, pool(enrolment), auth, None, admin))
    return auth, enrolment, admin


async def test_a_fallback_or_old_session_cannot_change_factors(cluster: Cluster) -> None:
    auth, enrolment, admin = await rig(cluster)
    fallback = forge_session(auth, admin, timedelta(minutes=1), aal="aal2-fallback")
    old = forge_session(auth, admin, timedelta(minutes=11), aal="aal2")
    refused: dict[str, list[str]] = {}
    for label, token in (("fallback", fallback), ("ten minutes old", old)):
        for path, body in CHANGES:
            status, answer = await post(enrolment, path, body, token)
            ok = status == 403 and answer.get("type", "").endswith("/reauthentication-required")
            if not ok:
                refused.setdefault(label, []).append(f"{path}: {status} {answer.get('type')}")
            else:
                assert "log in again" in answer["detail"].lower(), answer
                assert answer["max_age_seconds"] == 600, answer
    assert not refused, f"changed factors with a weak session: {refused}"
    # Nothing was made: no recovery code, no pending factor, no passkey challenge.
    assert await pool(enrolment).fetchval("SELECT count(*) FROM factors") == 0
    assert await pool(enrolment).fetchval("SELECT count(*) FROM pending_factors") == 0
    # Looking at one's factors is not a change: the fallback session may.
    response = await enrolment.client.get("/v1/factors", headers=bearer(fallback))
    assert response.status == 200, await response.text()


async def test_a_fresh_two_factor_session_changes_factors(cluster: Cluster) -> None:
    auth, enrolment, admin = await rig(cluster)
    fresh = forge_session(auth, admin, timedelta(minutes=1), aal="aal2")
    status, answer = await post(enrolment, "/v1/recovery-code", None, fresh)
    assert status == 200 and answer["recovery_code"], answer
