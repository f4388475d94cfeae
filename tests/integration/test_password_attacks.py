"""What an attacker and an operator broke around passwords (issue 10: findings 6, 7, 8 and the
username half of 15), each on real PostgreSQL and the real broker through real HTTP: a password
change ends the other sessions, unauthenticated argon2 work is bounded (hash queue, per-address
limit, history checks counted), an unknown practice answers like a known one, and usernames
are one key whatever their case or width."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.topics import AUTH_EVENTS, STS_REVOCATIONS
from tests.support.bus import read_events
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, login_from
from tests.support.enrolment import PIET, PIET_DATA, P, Rig, rig
from tests.support.practices import (
    FAST,
    STRONG,
    STRONGER,
    admin_token,
    count_verifies,
    put_password,
    set_policy,
)
from tests.support.tokens import change_own_password

#: "admin" in fullwidth letters (NFKC: "admin").
FULLWIDTH_ADMIN = "\uff41\uff44\uff4d\uff49\uff4e"
#: The enrolment service's fixture, for the uniqueness check.
__all__ = ["rig"]


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def renew_status(zone: Zone, token: str) -> int:
    response = await zone.client.post("/v1/tokens/renew", headers=auth_header(token))
    return response.status


def shape(body: dict[str, Any]) -> dict[str, Any]:
    """An answer without what differs per request (ids, times)."""
    return {k: v for k, v in body.items() if k not in ("instance", "retry_after")}


# -- finding 6: a password change ends the employee's other sessions ---------------------------


async def test_own_password_change_ends_the_other_sessions(cluster: Cluster) -> None:
    zone = await cluster.start("a", **FAST)
    employee = await cluster.bootstrap(zone)
    mine, others = await admin_token(zone), [await admin_token(zone) for _ in range(2)]
    status, body = await change_own_password(zone, mine, ADMIN_PASSWORD, STRONG)
    assert status == 200, body
    still = [await renew_status(zone, t) for t in others]
    assert still == [401, 401], f"other sessions after the own change renew: {still}"
    fresh = body["token"]["token"]
    assert await renew_status(zone, fresh) == 200, "the caller goes on with a fresh token"
    status, _ = await change_own_password(zone, fresh, STRONG, STRONGER)
    assert status == 200, "the fresh token is a live session"
    events = await read_events(
        cluster.broker,
        zone.settings.topic(STS_REVOCATIONS.name),
        lambda es: any(e["type"] == "sessions.revoked" for e in es),
    )
    revoked = [e for e in events if e["type"] == "sessions.revoked"]
    assert revoked and revoked[0]["data"]["employee"] == employee
    assert revoked[0]["data"]["reason"] == "password_changed"


async def test_admin_reset_ends_every_session_and_names_the_admin(cluster: Cluster) -> None:
    zone = await cluster.start("a", **FAST)
    employee = await cluster.bootstrap(zone)
    tokens = [await admin_token(zone) for _ in range(3)]
    status, body = await put_password(zone, tokens[0], "fysio", employee, STRONG, False)
    assert status == 200, body
    still = [await renew_status(zone, t) for t in tokens]
    assert still == [401, 401, 401], f"sessions after an admin reset renew: {still}"
    # A login with the new password right away (within the second of the reset) is live.
    status, body = await login(zone, "fysio", "admin", STRONG)
    assert status == 200 and await renew_status(zone, body["token"]["token"]) == 200
    events = await read_events(
        cluster.broker,
        zone.settings.topic(AUTH_EVENTS.name),
        lambda es: any(e["type"] == "password.changed" for e in es),
    )
    changed = [e for e in events if e["type"] == "password.changed"]
    assert changed[-1]["data"]["by"] == employee


# -- finding 7: unauthenticated argon2 work is bounded -----------------------------------------


async def test_hash_queue_is_bounded_with_503(cluster: Cluster) -> None:
    zone = await cluster.start("a", hash_workers=1, hash_max_waiting=2)
    await cluster.bootstrap(zone)
    answers = await asyncio.gather(
        *(login_from(zone, "fysio", f"ghost{i}", "wrong") for i in range(20))
    )
    busy = [(body, headers) for status, body, headers in answers if status == 503]
    assert busy, f"20 parallel logins, 1 worker: {len(busy)} answered 503"
    assert all(b["type"].endswith("/hasher-busy") and int(h["Retry-After"]) >= 1 for b, h in busy)
    assert {status for status, _, _ in answers} <= {401, 503}


async def test_attempts_per_address_are_limited(cluster: Cluster) -> None:
    zone = await cluster.start("a", login_rate_attempts=5, login_rate_window_seconds=60, **FAST)
    await cluster.bootstrap(zone)
    answers = [
        await login_from(zone, "fysio", f"ghost{i}", "wrong", forwarded=f"10.0.0.{i}")
        for i in range(8)
    ]
    statuses = [status for status, _, _ in answers]
    assert statuses == [401] * 5 + [429] * 3, f"8 guesses from one address: {statuses}"
    _, body, headers = answers[-1]
    assert body["type"].endswith("/too-many-requests") and int(headers["Retry-After"]) >= 1
    # The login step endpoints share the same budget.
    step = await zone.client.post("/v1/login/nope/verify", json={"factor": "totp", "code": "1"})
    assert step.status == 429


async def test_forwarded_for_is_believed_only_from_trusted_proxies(cluster: Cluster) -> None:
    zone = await cluster.start(
        "a",
        login_rate_attempts=2,
        login_rate_window_seconds=60,
        trusted_proxies=["127.0.0.0/8", "::1/128"],
        **FAST,
    )
    await cluster.bootstrap(zone)
    statuses = [
        (await login_from(zone, "fysio", f"ghost{i}", "wrong", forwarded=f"192.0.2.{i}"))[0]
        for i in range(4)
    ]
    assert statuses == [401] * 4, "each client behind the trusted proxy has its own budget"
    spoofed = [
        (await login_from(zone, "fysio", f"spoof{i}", "wrong", forwarded="1.2.3.4, 192.0.2.9"))[0]
        for i in range(3)
    ]
    assert spoofed == [401, 401, 429], "the address the proxy saw counts, not a client's claim"
    # The audit trail names the same client as the rate limit (one resolution per request).
    events = await read_events(
        cluster.broker,
        zone.settings.topic(AUTH_EVENTS.name),
        lambda es: sum(e["type"] == "login.failed" for e in es) >= 6,
    )
    addresses = {
        e["data"]["username"]: e["data"]["actor"]["address"]
        for e in events
        if e["type"] == "login.failed"
    }
    assert addresses["ghost3"] == "192.0.2.3", addresses
    assert addresses["spoof1"] == "192.0.2.9", addresses


async def test_reused_passwords_count_toward_the_lockout(cluster: Cluster) -> None:
    zone = await cluster.start("a", **FAST)
    await cluster.bootstrap(zone)
    await set_policy(zone, "fysio", 2, max_attempts=3, lockout_seconds=600)
    token = await admin_token(zone)
    status, body = await change_own_password(zone, token, ADMIN_PASSWORD, STRONG)
    assert status == 200, body
    token = body["token"]["token"] if body.get("token") else token
    verifies = count_verifies(zone)
    answers = [await change_own_password(zone, token, STRONG, ADMIN_PASSWORD) for _ in range(5)]
    statuses = [status for status, _ in answers]
    assert statuses == [422, 422, 422, 429, 429], f"5 reuse probes: {statuses}"
    assert answers[0][1]["type"].endswith("/password-reused")
    assert answers[3][1]["type"].endswith("/account-locked")
    assert verifies[0] == 3, f"current-password verifies: {verifies[0]}"


# -- finding 8: an unknown practice answers like a known one -----------------------------------


async def test_unknown_practice_answers_like_a_known_one(cluster: Cluster) -> None:
    zone = await cluster.start("a", login_rate_attempts=18, **FAST)
    await cluster.bootstrap(zone)
    verifies = count_verifies(zone)
    cases = (("no-such-practice", "admin"), ("fysio", "nobody"), ("fysio", "admin"))
    answers = {}
    for practice, username in cases:
        before = verifies[0]
        tries = [await login_from(zone, practice, username, "wrong") for _ in range(6)]
        answers[(practice, username)] = tries
        statuses = [status for status, _, _ in tries]
        assert statuses == [401] * 5 + [429], f"{practice}/{username}: {statuses}"
        assert verifies[0] - before == 5, f"{practice}/{username}: {verifies[0] - before} verifies"
    first = [shape(tries[0][1]) for tries in answers.values()]
    locked = [shape(tries[-1][1]) for tries in answers.values()]
    assert first[0] == first[1] == first[2]
    assert locked[0] == locked[1] == locked[2]
    # The budget of 18 requests is spent: the per-address limit answers whatever the practice.
    over = [(await login_from(zone, p, u, "wrong"))[:2] for p, u in cases]
    assert [(s, b["type"].rsplit("/", 1)[1]) for s, b in over] == [(429, "too-many-requests")] * 3


# -- finding 15 (usernames): one key whatever the case or width ---------------------------------


async def test_usernames_are_nfkc_and_case_insensitive(cluster: Cluster) -> None:
    zone = await cluster.start("a", **FAST)
    await cluster.bootstrap(zone)
    forms = ("ADMIN", "admin", FULLWIDTH_ADMIN)
    statuses = [(await login(zone, "fysio", form, ADMIN_PASSWORD))[0] for form in forms]
    assert statuses == [200, 200, 200], f"ADMIN, admin, fullwidth admin: {statuses}"
    for form in forms:
        status, _ = await login(zone, "fysio", form, "wrong")
        assert status == 401
    keys = await zone.auth.pool.fetch(
        "SELECT username, count(*) AS n FROM login_failures GROUP BY username"
    )
    assert [(r["username"], r["n"]) for r in keys] == [("admin", 3)], [tuple(r) for r in keys]


async def test_enrolment_refuses_a_username_that_differs_only_in_width_or_case(rig: Rig) -> None:
    url = f"/v1/practices/{P}/employees/{PIET}"
    for taken in ("ADMIN", FULLWIDTH_ADMIN, FULLWIDTH_ADMIN.upper()):
        status, body = await rig.call("PUT", url, rig.admin_token, {**PIET_DATA, "username": taken})
        assert status == 409 and body["type"].endswith("/username-taken"), (taken, status)
