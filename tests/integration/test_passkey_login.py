"""Passkeys as the login's second factor, on real PostgreSQL and the real broker, answered by
the software authenticator of ``tests/support/softkey.py``. The enrolment service is simulated
as in test_second_factor (tests/support/factors.py): the passkey is registered with py_webauthn
(the registration enrolment does) and its sealed ``factor.credential`` published through the
outbox."""

from __future__ import annotations

import json
import re
from typing import Any

from webauthn import generate_registration_options, options_to_json, verify_registration_response
from webauthn.helpers import bytes_to_base64url

from shared.events import FactorCredential, factor_aad, utcnow
from shared.topics import FACTORS
from tests.support.bus import events, of_type
from tests.support.cluster import ADMIN_PASSWORD, KEYRING, Cluster, Zone, login
from tests.support.factors import (
    PRACTICE,
    add_factor,
    challenge,
    claims_of,
    emit,
    problem,
    second_step,
    two_factor_practice,
    two_factor_setup,
    until_in,
)
from tests.support.softkey import SoftAuthenticator

ORIGIN = "http://localhost:8100"


def registered(soft: SoftAuthenticator, name: str = "Laptop") -> dict[str, Any]:
    """What enrolment seals for a passkey ``soft`` registers (shape in shared.events)."""
    options = generate_registration_options(rp_id="localhost", rp_name="Tweestap", user_name="a")
    credential = soft.register(json.loads(options_to_json(options)))
    verified = verify_registration_response(
        credential=credential,
        expected_challenge=options.challenge,
        expected_rp_id="localhost",
        expected_origin=ORIGIN,
    )
    return {
        "credential_id": bytes_to_base64url(verified.credential_id),
        "public_key": bytes_to_base64url(verified.credential_public_key),
        "sign_count": verified.sign_count,
        "transports": ["internal"],
        "user_verified": verified.user_verified,
        "name": name,
    }


async def add_passkey(zones: list[Zone], employee: str, soft: SoftAuthenticator) -> str:
    return await add_factor(zones, employee, "passkey", registered(soft))


async def passkey_options(zone: Zone, login_id: str) -> dict[str, Any]:
    status, body = await challenge(zone, login_id, "passkey")
    assert status == 200 and body["factor"] == "passkey", body
    options: dict[str, Any] = body["options"]
    return options


async def answer(zone: Zone, login_id: str, credential: Any) -> tuple[int, dict[str, Any]]:
    payload = {"factor": "passkey", "credential": credential}
    response = await zone.client.post(f"/v1/login/{login_id}/verify", json=payload)
    return response.status, await response.json(content_type=None)


async def test_passkey_is_offered_first_and_completes_the_login(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster)
    zone, soft = s.zone, SoftAuthenticator()
    factor = await add_passkey(s.zones, s.employee, soft)
    body = await second_step(zone)
    assert body["factors"] == ["passkey", "totp"]
    options = await passkey_options(zone, body["login_id"])
    assert [c["id"] for c in options["allowCredentials"]] == [soft.credential_id]
    assert options["rpId"] == "localhost" and options["userVerification"] == "preferred"
    status, token = await answer(zone, body["login_id"], soft.authenticate(options))
    assert status == 200, token
    claims = await claims_of(zone, token["token"])
    assert claims["amr"] == ["pwd", "hwk", "user"] and claims["aal"] == "aal2"
    await events(
        cluster,
        zone,
        "auth.events",
        of_type("login.succeeded", employee=s.employee, passkey=factor, user_verified=True),
    )
    # This zone keeps the counter it accepted.
    count = await zone.auth.pool.fetchval(
        "SELECT sign_count FROM passkey_counters WHERE factor = $1", factor
    )
    assert count == soft.sign_count == 1
    metrics = await (await zone.ops.get("/metrics")).text()
    assert re.search(
        r'tweestap_second_factor_total\{.*factor="passkey".*outcome="success".*\} 1', metrics
    )


async def test_replays_old_counters_and_foreign_origins_are_refused(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster)
    zone, soft = s.zone, SoftAuthenticator()
    await add_passkey(s.zones, s.employee, soft)
    await two_factor_practice(s.zones, 3, max_attempts=20)  # every refusal below is counted
    first = await second_step(zone)
    options = await passkey_options(zone, first["login_id"])
    used = soft.authenticate(options)
    # The answer before any challenge of this login, and a challenge answered twice.
    problem(
        await answer(zone, (await second_step(zone))["login_id"], used), 409, "challenge-required"
    )
    assert (await answer(zone, first["login_id"], used))[0] == 200
    # The same assertion against a new challenge (replayed): refused, a failed attempt.
    again = await second_step(zone)
    await passkey_options(zone, again["login_id"])
    problem(await answer(zone, again["login_id"], used), 401, "passkey-refused")
    problem(await answer(zone, again["login_id"], used), 409, "challenge-required")
    # A counter that does not go forward (a cloned authenticator).
    options = await passkey_options(zone, again["login_id"])
    refused = await answer(zone, again["login_id"], soft.authenticate(options, sign_count=1))
    problem(refused, 401, "passkey-refused")
    assert "count" in refused[1]["detail"].lower(), refused
    # Another origin, no user presence, another RP's authenticator: each with a fresh challenge.
    stranger = SoftAuthenticator()
    for respond in (
        lambda o: soft.authenticate(o, origin="https://evil.example"),
        lambda o: soft.authenticate(o, user_present=False),
        stranger.authenticate,
    ):
        credential = respond(await passkey_options(zone, again["login_id"]))
        problem(await answer(zone, again["login_id"], credential), 401, "passkey-refused")
    garbled = soft.authenticate(await passkey_options(zone, again["login_id"]))
    garbled["response"]["authenticatorData"] = "!!not-base64url!!"
    problem(await answer(zone, again["login_id"], garbled), 401, "passkey-refused")
    # A credential missing its parts: the service's invalid-request problem, not a 500.
    problem(await answer(zone, again["login_id"], {"id": "x"}), 422, "invalid-request")
    failed = await events(
        cluster, zone, "auth.events", of_type("login.failed", factor="passkey"), 6
    )
    assert len(failed) >= 6
    # The right answer still works after all that.
    options = await passkey_options(zone, again["login_id"])
    assert (await answer(zone, again["login_id"], soft.authenticate(options)))[0] == 200


async def test_wrong_assertions_count_toward_lockout(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster)
    zone, soft = s.zone, SoftAuthenticator()
    await add_passkey(s.zones, s.employee, soft)
    await two_factor_practice(s.zones, 3, max_attempts=3, lockout_seconds=600)
    body = await second_step(zone)
    for _ in range(3):
        options = await passkey_options(zone, body["login_id"])
        credential = soft.authenticate(options, origin="https://evil.example")
        problem(await answer(zone, body["login_id"], credential), 401, "passkey-refused")
    problem(await challenge(zone, body["login_id"], "passkey"), 429, "account-locked")
    problem(await login(zone, PRACTICE, "admin", ADMIN_PASSWORD), 429, "account-locked")
    await events(cluster, zone, "auth.events", of_type("account.locked"))


async def test_enrolled_in_zone_a_works_in_zone_b_until_deactivated(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster, zones=("a", "b"))
    zone_b, soft = s.zones[1], SoftAuthenticator()
    factor = await add_passkey(s.zones, s.employee, soft)
    body = await second_step(zone_b)
    assert body["factors"][0] == "passkey"
    options = await passkey_options(zone_b, body["login_id"])
    assert (await answer(zone_b, body["login_id"], soft.authenticate(options)))[0] == 200
    # An administrator deactivates it (enrolment's factor.credential, active false).
    now = utcnow()
    sealed = KEYRING.seal(
        json.dumps(registered(soft)).encode(), factor_aad(PRACTICE, s.employee, factor)
    )
    body_off = FactorCredential(
        factor=factor,
        employee=s.employee,
        kind="passkey",
        sealed=sealed,
        active=False,
        created_at=now,
        version=2,
        updated_at=now,
        zone="a",
    )
    await emit(s.zones[0], FACTORS, "factor.credential", factor, body_off.model_dump(mode="json"))
    await until_in(
        s.zones, "SELECT version = 2 FROM factors WHERE practice = $1 AND id = $2", PRACTICE, factor
    )
    for zone in s.zones:
        later = await second_step(zone)
        assert later["factors"] == ["totp"]
        problem(await challenge(zone, later["login_id"], "passkey"), 422, "factor-not-available")
