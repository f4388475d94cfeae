"""A login step is given up on when its zone misses a liveness check only if another zone could
take the login made again (client/README.md, "Liveness check of a login step"). When every
other zone has failed, a zone too loaded to answer ``GET /v1/status`` within
``liveness_timeout`` is the only one left: giving up would only make the caller send the same
password to it again, doubling its argon2 work. Over real HTTP, with a zone that is slow to
answer both its liveness check and the login (a saturated machine), and another that is gone."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from tweestap_client import LoginInterrupted, TweestapClient, TweestapError

from tests.sdk.test_retry_after import refused_url
from tests.support.sdk import StandInAuth


class SlowZone(StandInAuth):
    """Auth on a saturated machine: each status check takes ``status_s``, each login
    ``login_s`` and then answers 401."""

    def __init__(self, status_s: float, login_s: float) -> None:
        self.status_s, self.login_s = status_s, login_s
        self.logins = 0

    async def status(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.status_s)
        return web.json_response({"zone": "b", "status": "serving"})

    async def login(self, request: web.Request) -> web.Response:
        self.logins += 1
        await asyncio.sleep(self.login_s)
        problem = {"type": "https://tweestap.nl/problems/invalid-credentials", "status": 401}
        return web.json_response(problem, status=401)


@pytest.mark.parametrize("other_zone", ["gone", "none"])
async def test_the_only_zone_left_is_waited_for_though_its_liveness_check_is_slow(
    other_zone: str,
) -> None:
    slow = SlowZone(status_s=1.0, login_s=1.5)
    try:
        zones = (
            [await slow.start()] if other_zone == "none" else [refused_url(), await slow.start()]
        )
        async with TweestapClient(
            zones, hedge_after=0.25, liveness_timeout=0.5, probe_interval=3600
        ) as client:
            with pytest.raises(TweestapError) as verdict:
                await client.login("fysio", "admin", "a-guess")
            assert verdict.value.status == 401, "the slow zone's verdict reached the caller"
            assert client.abandoned == 0 and slow.logins == 1, "one attempt, waited for"
    finally:
        await slow.close()


async def test_a_slow_liveness_check_still_moves_on_when_another_zone_is_up() -> None:
    """The rule's other side (as for a hung zone): with another zone that answers, a login
    whose zone misses its check is given up on, and the caller logs in again there."""
    slow, other = SlowZone(status_s=1.0, login_s=3.0), SlowZone(status_s=0, login_s=0)
    try:
        async with TweestapClient(
            [await slow.start(), await other.start()],
            hedge_after=0.25,
            liveness_timeout=0.5,
            probe_interval=3600,
        ) as client:
            with pytest.raises(LoginInterrupted):
                await client.login("fysio", "admin", "a-guess")
            assert client.abandoned == 1 and slow.logins == 1 and other.logins == 0
    finally:
        await slow.close()
        await other.close()
