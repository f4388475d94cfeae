"""Passkey registration at the enrolment service (the employee's own factor), answered by the
software authenticator in ``tests/support/softkey.py`` — real PostgreSQL, the real broker, auth
in both zones consuming ``factors``, the notifier with a real SMTP sink. py_webauthn verifies
what a browser would post; nothing is mocked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest

from shared.events import factor_aad
from tests.support.cluster import KEYRING, Cluster, Zone, slug, wait_for
from tests.support.enrolment import (
    PIET,
    PIET_EMAIL,
    P,
    Rig,
    enrol_login,
    enrol_totp,
    opened,
    start,
    two_factor_practice,
)
from tests.support.mail import SmtpSink, text_of
from tests.support.softkey import SoftAuthenticator


@pytest.fixture
async def piet(cluster: Cluster, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    """A practice requiring two factors; Piet has not enrolled yet."""
    async for rig in start(cluster, smtp_sink):
        await two_factor_practice(rig)
        yield rig


async def options(rig: Rig, token: str) -> dict[str, Any]:
    status, body = await rig.call("POST", "/v1/factors/passkey/options", token, {})
    assert status == 200, body
    made: dict[str, Any] = body
    return made


async def register(
    rig: Rig,
    token: str,
    registration_id: str,
    credential: Any,
    name: str | None = None,
    zone: Zone | None = None,
) -> tuple[int, Any]:
    body: dict[str, Any] = {"registration_id": registration_id, "credential": credential}
    if name is not None:
        body["name"] = name
    return await rig.call("POST", "/v1/factors/passkey", token, body, zone)


async def auth_factor(rig: Rig, zone: int, factor_id: str) -> Any:
    """The factor's row in auth's store of ``zone`` (0: a, 1: b)."""
    auths = [z for z in rig.cluster.zones if z.settings.service == "auth"]
    return await auths[zone].auth.pool.fetchrow(
        "SELECT kind, active, sealed FROM factors WHERE practice = $1 AND id = $2", P, factor_id
    )


def open_sealed(factor_id: str, sealed: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(KEYRING.open(sealed, factor_aad(P, PIET, factor_id)))
    return body


async def test_a_passkey_is_registered_listed_replicated_and_mailed(piet: Rig) -> None:
    rig = piet
    await rig.cluster.start("b")  # auth in zone b consumes `factors` too
    enrol_b = await rig.cluster.start("b", "enrolment")
    token = rig.token(PIET)
    status, body = await rig.call("POST", "/v1/factors/passkey/options", token, {})
    assert status == 409 and slug(body) == "strong-factor-required", "the wizard comes first"
    await enrol_totp(rig, (await enrol_login(rig))[1])

    made = await options(rig, token)
    creation = made["options"]
    assert creation["rp"] == {"id": "localhost", "name": "Tweestap"}
    assert creation["user"]["name"] == "piet" and PIET not in creation["user"]["id"]
    assert creation["excludeCredentials"] == []
    assert {p["alg"] for p in creation["pubKeyCredParams"]} == {-7, -8, -257}
    assert creation["authenticatorSelection"]["residentKey"] == "preferred"
    key = SoftAuthenticator()
    status, added = await register(
        rig, token, made["registration_id"], key.register(creation), "Mijn telefoon"
    )
    assert status == 201, added
    assert added["kind"] == "passkey" and added["name"] == "Mijn telefoon"
    factor_id = added["factor_id"]

    # The same registration answered again (even with a valid credential) is refused.
    again = SoftAuthenticator()
    status, body = await register(rig, token, made["registration_id"], again.register(creation))
    assert status == 400 and slug(body) == "passkey-refused", body
    assert body["reason"] == "registration-used"

    status, listed = await rig.call("GET", "/v1/factors", token)
    assert status == 200
    assert [(f["kind"], f["name"]) for f in listed][:2] == [
        ("passkey", "Mijn telefoon"),
        ("totp", None),
    ]

    # The next options exclude the registered passkey; the user handle is stable.
    second = (await options(rig, token))["options"]
    assert [c["id"] for c in second["excludeCredentials"]] == [key.credential_id]
    assert second["user"]["id"] == creation["user"]["id"]

    # Sealed on `factors` as the contract says, and in auth's store in both zones.
    factors = await rig.events(
        "factors", lambda es: any(e["data"]["factor"] == factor_id for e in es)
    )
    [event] = [e for e in factors if e["data"]["factor"] == factor_id]
    assert event["data"]["kind"] == "passkey" and event["data"]["active"]
    credential = opened(event)
    assert credential["credential_id"] == key.credential_id
    assert credential["sign_count"] == 0 and credential["user_verified"] is True
    assert credential["transports"] == ["internal"] and credential["name"] == "Mijn telefoon"
    assert set(credential) == {
        "credential_id",
        "public_key",
        "sign_count",
        "transports",
        "user_verified",
        "name",
    }
    for zone in (0, 1):
        row = await wait_for(partial(auth_factor, rig, zone, factor_id))
        assert row["kind"] == "passkey" and row["active"]
        assert open_sealed(factor_id, row["sealed"]) == credential

    # Zone b's enrolment lists it; a registration is answered in the zone that made it.
    async def listed_in_b() -> Any:
        status, body = await rig.call("GET", "/v1/factors", token, zone=enrol_b)
        return status == 200 and [f["factor_id"] for f in body if f["kind"] == "passkey"]

    assert await wait_for(listed_in_b) == [factor_id]
    made = await options(rig, token)
    status, body = await register(
        rig,
        token,
        made["registration_id"],
        SoftAuthenticator().register(made["options"]),
        zone=enrol_b,
    )
    assert status == 400 and body["reason"] == "unknown-registration", body

    enrolled = await rig.events(
        "enrolment.events",
        lambda es: any(e["data"].get("factor_id") == factor_id for e in es),
    )
    [news] = [e for e in enrolled if e["data"].get("factor_id") == factor_id]
    assert news["type"] == "factor.enrolled" and news["data"]["kind"] == "passkey"
    assert news["data"]["user_verified"] is True
    mails = await rig.mails(PIET_EMAIL, "Wijziging", 2)  # the authenticator app, the passkey
    assert "ingesteld" in text_of(mails[-1])

    # The administrator's deactivation deactivates the passkey too, everywhere.
    status, _ = await rig.call(
        "DELETE", f"/v1/practices/{P}/employees/{PIET}/factors", rig.admin2()
    )
    assert status == 204

    async def inactive_in_b() -> bool:
        row = await auth_factor(rig, 1, factor_id)
        return row is not None and not row["active"]

    await wait_for(inactive_in_b)
    factors = await rig.events(
        "factors",
        lambda es: any(e["data"]["factor"] == factor_id and not e["data"]["active"] for e in es),
    )
    last = [e for e in factors if e["data"]["factor"] == factor_id][-1]
    assert not last["data"]["active"] and opened(last) == {}


async def test_refused_registrations_are_problems_not_errors(piet: Rig) -> None:
    rig = piet
    token = rig.token(PIET)
    await enrol_totp(rig, (await enrol_login(rig))[1])

    # Another origin than the front end's.
    made = await options(rig, token)
    phished = SoftAuthenticator(origin="https://tweestap.example")
    status, body = await register(
        rig, token, made["registration_id"], phished.register(made["options"])
    )
    assert status == 400 and body["reason"] == "verification-failed", body
    assert "origin" in body["detail"].lower()

    # Another RP ID (the authenticator signed for another site).
    made = await options(rig, token)
    status, body = await register(
        rig,
        token,
        made["registration_id"],
        SoftAuthenticator(rp_id="example.org").register(made["options"]),
    )
    assert status == 400 and body["reason"] == "verification-failed", body

    # Another registration's challenge.
    first, second = await options(rig, token), await options(rig, token)
    credential = SoftAuthenticator().register(first["options"])
    status, body = await register(rig, token, second["registration_id"], credential)
    assert status == 400 and body["reason"] == "verification-failed", body

    # Malformed credentials: 400/422 problems, never a 500.
    made = await options(rig, token)
    good = SoftAuthenticator().register(made["options"])
    broken: list[Any] = [
        "not an object",
        {},
        {**good, "type": "secret-key"},
        {**good, "rawId": "!!!"},
        {**good, "response": {**good["response"], "attestationObject": "AAAA"}},
        {**good, "response": {**good["response"], "clientDataJSON": "e30"}},
        {**good, "response": {**good["response"], "clientDataJSON": "%%%"}},
    ]
    for credential in broken:
        made = await options(rig, token)
        status, body = await register(rig, token, made["registration_id"], credential)
        assert status in (400, 422), (credential, status, body)

    # Unknown and expired registrations.
    status, body = await register(rig, token, "nope", good)
    assert status == 400 and body["reason"] == "unknown-registration"
    made = await options(rig, token)
    await rig.pool.execute(
        "UPDATE passkey_registrations SET expires_at = now() - interval '1 second' WHERE id = $1",
        made["registration_id"],
    )
    status, body = await register(
        rig, token, made["registration_id"], SoftAuthenticator().register(made["options"])
    )
    assert status == 400 and body["reason"] == "registration-expired"

    # Another employee's registration is unknown to this one (the admin has a 2FA session).
    made = await options(rig, token)
    status, body = await register(
        rig, rig.admin2(), made["registration_id"], SoftAuthenticator().register(made["options"])
    )
    assert status == 400 and body["reason"] == "unknown-registration", body

    # Two answers to one registration at once: one passkey, the other refused as used.
    made = await options(rig, token)
    answers = await asyncio.gather(
        *(
            register(
                rig, token, made["registration_id"], SoftAuthenticator().register(made["options"])
            )
            for _ in range(2)
        )
    )
    assert sorted(status for status, _ in answers) == [201, 400]
    [refused] = [body for status, body in answers if status == 400]
    assert refused["reason"] == "registration-used"
    [(_, raced)] = [a for a in answers if a[0] == 201]

    # Of all the above, only the race's winner became a factor.
    status, listed = await rig.call("GET", "/v1/factors", token)
    assert [f["kind"] for f in listed] == ["passkey", "totp", "recovery"]
    assert listed[0]["factor_id"] == raced["factor_id"]
