"""A zone that comes back after a whole-zone outage must not decide on the state it had.

Zone a is taken down (every process SIGKILLed, its PostgreSQL stopped); zone b ends a session
zone a issued, changes a password and refuses wrong passwords; zone a comes back. From the
first answer zone a gives, it must never renew the ended session nor accept the old password:
until its consumers have read what zone b wrote it answers 503 ``catching-up`` (clients use
zone b), then it serves with zone b's state. Figures (time until zone a answers, serves, and
the answers it gave meanwhile) go to the log, never into an assertion.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
from tweestap_client import TweestapClient

from services.dev.deployment import Deployment
from tests.support.deployment import (
    CATCH_UP_LIMIT_SECONDS,
    FAILED_LOGINS,
    PASSWORD,
    Account,
    auth_zones,
    change_password,
    failures_in,
    log,
    new_account,
    renew_status,
    revoked_in,
    same_password,
    sid_of,
    wait_until,
)

#: Between two probes of the returning zone.
PROBE_PAUSE_SECONDS = 0.1


async def _login_status(deployment: Deployment, zone: str, account: Account, password: str) -> int:
    """A password login straight to ``zone``'s auth (no SDK, so no failover): its status."""
    payload = {"practice": account.practice, "username": account.username, "password": password}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{deployment.url('auth', zone)}/v1/login", json=payload) as response,
    ):
        return response.status


async def _answers(deployment: Deployment, zone: str) -> bool:
    """Whether ``zone``'s auth answers HTTP at all (whatever the status)."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
            session.get(f"{deployment.url('auth', zone)}/v1/nothing-here"),
        ):
            return True
    except (aiohttp.ClientError, TimeoutError):
        return False


async def test_returning_zone_never_decides_on_stale_state(deployment: Deployment) -> None:
    """After ``zone_up("a")`` zone a renews no session zone b ended and accepts no password
    zone b replaced, from its first answer on (before the fix: ready 1.7 s after zone_up, then
    164 renewals of an ended session over 18.1 s); it serves again once caught up."""
    zones = auth_zones(deployment)
    user = await new_account(deployment, "return-user")
    changer = await new_account(deployment, "return-change")
    target = await new_account(deployment, "return-target")
    async with TweestapClient([zones[0]]) as in_a:
        step = await in_a.login(user.practice, user.username, user.password)
        assert step.next == "done" and in_a.zone == 0
        ended = in_a.token
        assert ended is not None

    deployment.zone_down("a")
    down_at = time.monotonic()
    try:
        async with TweestapClient([zones[1]]) as in_b:
            await in_b.login(user.practice, user.username, user.password)
            async with aiohttp.ClientSession() as session:
                revoke = await session.post(
                    f"{deployment.url('auth', 'b')}/v1/tokens/revoke",
                    headers={"Authorization": f"Bearer {ended}"},
                )
                assert revoke.status in (200, 204), await revoke.text()
            step = await in_b.login(changer.practice, changer.username, changer.password)
            assert step.next == "done"
            await change_password(in_b, changer)
        for _ in range(FAILED_LOGINS):
            assert await _login_status(deployment, "b", target, "Fout-Wachtwoord-0000!") == 401
        assert await revoked_in(deployment, "b", {sid_of(ended)}) == {sid_of(ended)}
    except BaseException:
        deployment.zone_up("a")
        raise

    up_at = time.monotonic()
    log.info("zone a down %.1f s; zone b ended a session, changed a password", up_at - down_at)
    coming_up = asyncio.create_task(asyncio.to_thread(deployment.zone_up, "a"))
    renewals: Counter[int] = Counter()
    old_password: Counter[int] = Counter()
    served: Counter[int] = Counter()
    await wait_until(lambda: _answers(deployment, "a"), "zone a answers", CATCH_UP_LIMIT_SECONDS)
    answers_at = time.monotonic()

    async def serves() -> bool:
        renewals[await renew_status(deployment, "a", ended)] += 1
        old_password[await _login_status(deployment, "a", changer, PASSWORD)] += 1
        status = await _login_status(deployment, "a", user, user.password)
        served[status] += 1
        await asyncio.sleep(PROBE_PAUSE_SECONDS)
        return status == 200

    await wait_until(serves, "zone a serves again", CATCH_UP_LIMIT_SECONDS)
    serves_at = time.monotonic()
    await coming_up
    ready_at = time.monotonic()
    for _ in range(3):  # and once serving, still with zone b's state
        renewals[await renew_status(deployment, "a", ended)] += 1
        old_password[await _login_status(deployment, "a", changer, PASSWORD)] += 1
    log.info(
        "zone a back: answers after %.1f s, serves after %.1f s, zone_up returned (ready) "
        "after %.1f s; renewing the session zone b ended: %s; the old password: %s; "
        "logins meanwhile: %s",
        answers_at - up_at,
        serves_at - up_at,
        ready_at - up_at,
        dict(renewals),
        dict(old_password),
        dict(served),
    )
    assert renewals[200] == 0, "zone a renewed a session zone b had ended"
    assert old_password[200] == 0, "zone a accepted a password zone b had replaced"
    assert await revoked_in(deployment, "a", {sid_of(ended)}) == {sid_of(ended)}
    assert await failures_in(deployment, "a", target.practice, "b") == FAILED_LOGINS
    assert await same_password(deployment, changer), "zone b's password change is in zone a"
