"""A zone that hangs (accepts connections, never answers): a renewal is hedged to the next
zone and completes there, long before the hung zone's time limit; and a call answered where it
began does not undo the probe's move back to the preferred zone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tweestap_client import LoginInterrupted, TweestapClient, TweestapError

from tests.support.cluster import ADMIN_PASSWORD, Cluster, wait_for
from tests.support.sdk import HungZone, url

PROBLEMS = "https://tweestap.nl/problems/"


async def test_a_renewal_is_hedged_from_a_hung_zone_and_completes_in_the_next(
    cluster: Cluster, hung: HungZone, tmp_path: Path
) -> None:
    b = await cluster.start("b")
    await cluster.bootstrap(b)
    path = tmp_path / "token.json"
    async with TweestapClient([url(b)], token_path=path) as first:
        await first.login("fysio", "admin", ADMIN_PASSWORD)
        old = first.token
    renewed: list[str] = []
    switched: list[tuple[int, int]] = []
    async with TweestapClient(
        [await hung.start(), url(b)],
        token_path=path,
        renew_timeout=30,  # far away: only the hedge can finish the renewal in time
        hedge_after=0.25,
        probe_interval=3600,
        on_renewed=renewed.append,
        on_zone_switched=lambda *z: switched.append(z),
    ) as client:
        assert client.token == old and client.zone == 0
        # A correctness bound, not a timing goal: well before the hung leg's 30 s limit.
        token = await asyncio.wait_for(client.renew(), timeout=10)
        assert token != old and client.token == token and renewed == [token], "one token kept"
        assert b.auth.signer.kid_of(token).startswith("b-"), "zone b issued it"
        assert client.zone == 1 and switched == [(0, 1)]
        assert client.hedges == 1
        assert hung.requests == [b"POST /v1/tokens/renew HTTP/1.1\r\n"], "zone a was asked first"
        await wait_for(lambda: _async(hung.closed_by_client == 1), timeout=5)
        assert 0 not in client._down, "the hedge answered, not the hung leg's timeout"
        assert await client.bearer() == token, "not due: no second renewal"


async def _async(value: bool) -> bool:
    return value


async def test_a_call_answered_where_it_began_keeps_the_probes_move_back() -> None:
    """Zone 0 is down, the client works in zone 1; zone 0 returns and the probe moves the
    client back while a call is still running in zone 1. That call's answer (from the zone it
    began in) must leave the client in zone 0 (before the fix: moved to zone 1 again)."""
    preferred_up = asyncio.Event()
    release = asyncio.Event()
    logins: list[int] = []

    async def preferred(request: web.Request) -> web.Response:
        if preferred_up.is_set():
            return web.json_response({"keys": []})
        # Down in the way that lets a login move on: nothing evaluated (DESIGN §8 and the
        # password's rule in test_login_interrupted).
        return web.json_response({"type": f"{PROBLEMS}catching-up", "status": 503}, status=503)

    async def login(request: web.Request) -> web.Response:
        logins.append(1)
        if len(logins) == 2:  # the second login is the one in flight during the move back
            await release.wait()
        return web.json_response({"next": "second_factor", "login_id": "L", "factors": ["totp"]})

    zone_0, zone_1 = web.Application(), web.Application()
    zone_0.router.add_route("*", "/{tail:.*}", preferred)
    zone_1.router.add_post("/v1/login", login)
    servers = [TestServer(zone_0), TestServer(zone_1)]
    for server in servers:
        await server.start_server()
    switched: list[tuple[int, int]] = []
    try:
        async with TweestapClient(
            [str(s.make_url("")).rstrip("/") for s in servers],
            probe_interval=0.05,
            on_zone_switched=lambda *z: switched.append(z),
        ) as client:
            first = await client.login("fysio", "admin", ADMIN_PASSWORD)
            assert first.zone == 1 and client.zone == 1
            in_flight = asyncio.ensure_future(client.login("fysio", "admin", ADMIN_PASSWORD))
            await wait_for(lambda: _async(len(logins) == 2), timeout=5)
            preferred_up.set()
            await wait_for(lambda: _async(client.zone == 0), timeout=5)
            release.set()
            step = await in_flight
            assert step.zone == 1, "answered in the zone it began in"
            assert client.zone == 0 and switched == [(0, 1), (1, 0)]
    finally:
        release.set()
        for server in servers:
            await server.close()


async def test_a_login_in_a_hung_zone_moves_on_after_a_failed_liveness_check(
    cluster: Cluster, hung: HungZone
) -> None:
    """Logins are not hedged (a second password attempt would count toward the lockout), but a
    login whose zone answers not even ``GET /v1/status`` is given up on at once, instead of
    waiting out ``password_timeout``. The password may have reached that zone, so it is not
    sent to another (Hardening II finding 10): the caller logs in again, in the next zone."""
    b = await cluster.start("b")
    await cluster.bootstrap(b)
    async with TweestapClient(
        [await hung.start(), url(b)],
        password_timeout=30,  # far away: only the liveness check can end the wait in time
        hedge_after=0.25,
        liveness_timeout=0.5,
        probe_interval=3600,
    ) as client:
        # A correctness bound, not a timing goal: well before the hung zone's 30 s limit.
        with pytest.raises(LoginInterrupted) as interrupted:
            await asyncio.wait_for(client.login("fysio", "admin", ADMIN_PASSWORD), timeout=10)
        assert interrupted.value.may_have_applied and interrupted.value.zone == 0
        step = await client.login("fysio", "admin", ADMIN_PASSWORD)
        assert step.next == "done" and client.token is not None
        assert b.auth.signer.kid_of(client.token).startswith("b-"), "zone b issued it"
        assert client.zone == 1 and client.abandoned == 1 and client.hedges == 0
        assert hung.requests == [
            b"POST /v1/login HTTP/1.1\r\n",
            b"GET /v1/status HTTP/1.1\r\n",
        ], "the login went to zone a once, then only the liveness check"


async def test_a_busy_zone_that_answers_its_liveness_check_is_waited_for() -> None:
    """A zone slow to answer a login (argon2 under load) but alive keeps the login: no second
    attempt anywhere, and its verdict is the answer."""
    logins: list[int] = []

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"zone": "a", "status": "serving"})

    async def login(request: web.Request) -> web.Response:
        logins.append(1)
        await asyncio.sleep(1.0)  # four times hedge_after
        return web.json_response(
            {"type": "https://tweestap.nl/problems/invalid-credentials", "status": 401},
            status=401,
        )

    app = web.Application()
    app.router.add_get("/v1/status", status)
    app.router.add_post("/v1/login", login)
    server = TestServer(app)
    await server.start_server()
    other = HungZone()  # must never be asked
    try:
        async with TweestapClient(
            [str(server.make_url("")), await other.start()],
            hedge_after=0.25,
            probe_interval=3600,
        ) as client:
            try:
                await client.login("fysio", "admin", "wrong")
            except TweestapError as error:
                assert error.status == 401
            else:
                raise AssertionError("the busy zone's verdict (401) must reach the caller")
            assert logins == [1] and client.abandoned == 0 and client.zone == 0
            assert other.requests == [], "no second attempt in another zone"
    finally:
        await other.stop()
        await server.close()
