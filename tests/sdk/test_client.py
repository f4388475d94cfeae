"""The SDK against the real auth service: login, renew, logout, failover, the token file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tweestap_client import (
    LoginInterrupted,
    NotLoggedIn,
    SessionEnded,
    TweestapClient,
    TweestapError,
    acting_for,
)

from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, wait_for
from tests.support.sdk import url


async def login_renew_logout_and_the_token_file(a: Zone, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    renewed: list[str] = []
    async with TweestapClient([url(a)], token_path=path, on_renewed=renewed.append) as client:
        assert client.token is None
        step = await client.login("fysio", "admin", ADMIN_PASSWORD)
        assert step.next == "done" and client.token is not None and client.zone == 0
        assert ADMIN_PASSWORD not in repr(vars(step)), "a step holds no password"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        first = client.token
        assert await client.bearer() == first, "not due yet: no renewal"
        second = await client.renew()
        assert second != first and client.token == second and renewed == [second]
        assert json.loads(path.read_text())["token"] == second

    async with TweestapClient([url(a)], token_path=path) as again:
        assert again.token == second, "a restarted client reuses the file without a login"
        response = await again.request("auth", "GET", "/.well-known/jwks.json")
        assert response.status == 200 and response.body["keys"]
        await again.logout()
        assert again.token is None and not path.exists()

    status = (
        await a.client.post("/v1/tokens/renew", headers={"Authorization": f"Bearer {second}"})
    ).status
    assert status == 401, "logout revoked the session"


def _listing(directory: Path) -> list[Path]:
    return list(directory.iterdir())


async def test_a_corrupt_token_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text("{not json")
    async with TweestapClient(["http://127.0.0.1:9"], token_path=path) as client:
        assert client.token is None
    names = {p.name for p in _listing(tmp_path)}
    assert "token.json" not in names
    assert len({n for n in names if n.startswith("token.json.corrupt-")}) == 1


async def two_clients_sharing_the_file_renew_once(a: Zone, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    async with TweestapClient([url(a)], token_path=path) as first:
        await first.login("fysio", "admin", ADMIN_PASSWORD)
        first_token = first.token
        async with TweestapClient([url(a)], token_path=path) as second:
            assert second.token == first.token
            one, two = await asyncio.gather(first.renew(), second.renew())
            assert one == two, "whoever came second saw the first's renewal under the lock"
            assert one != first_token


async def test_failover_to_zone_b_when_zone_a_is_gone(
    two_zones: tuple[Zone, Zone], tmp_path: Path
) -> None:
    a, b = two_zones
    switched: list[tuple[int, int]] = []
    zones = [url(a), url(b)]
    async with TweestapClient(
        zones, token_path=tmp_path / "t.json", on_zone_switched=lambda *z: switched.append(z)
    ) as client:
        await client.login("fysio", "admin", ADMIN_PASSWORD)
        assert client.zone == 0
        await a.client.close()
        token = await client.renew()
        assert client.zone == 1 and switched == [(0, 1)]
        assert b.auth.signer.kid_of(token).startswith("b-")
        assert await client.bearer() == token


async def unavailable(request: web.Request) -> web.Response:
    """A zone that is down and says it evaluated nothing (a login may move on from it)."""
    problem = {"type": "https://tweestap.nl/problems/catching-up", "status": 503}
    return web.json_response(problem, status=503)


@pytest.fixture
async def down() -> Any:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unavailable)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def a_503_moves_the_login_to_the_next_zone(a: Zone, down: str) -> None:
    switched: list[tuple[int, int]] = []
    async with TweestapClient(
        [down, url(a)], on_zone_switched=lambda *z: switched.append(z), probe_interval=0.05
    ) as client:
        step = await client.login("fysio", "admin", ADMIN_PASSWORD)
        assert step.next == "done" and step.zone == 1 and client.zone == 1
        assert switched == [(0, 1)]
        assert await client.bearer() == client.token, "the probe keeps it off the 503 zone"


async def the_probe_moves_back_to_the_preferred_zone(a: Zone) -> None:
    up = {"value": False}

    async def flaky(request: web.Request) -> web.Response:
        if up["value"]:
            return web.json_response({"keys": []})
        return await unavailable(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", flaky)
    preferred = TestServer(app)
    await preferred.start_server()
    switched: list[tuple[int, int]] = []
    try:
        async with TweestapClient(
            [str(preferred.make_url("")).rstrip("/"), url(a)],
            on_zone_switched=lambda *z: switched.append(z),
            probe_interval=0.05,
        ) as client:
            await client.login("fysio", "admin", ADMIN_PASSWORD)
            assert client.zone == 1
            up["value"] = True

            async def back() -> bool:
                return client.zone == 0

            await wait_for(back, timeout=5)
            assert switched == [(0, 1), (1, 0)]
    finally:
        await preferred.close()


async def a_revoked_session_ends_with_the_hook(a: Zone, tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    ended: list[str] = []
    async with TweestapClient([url(a)], token_path=path, on_session_ended=ended.append) as client:
        await client.login("fysio", "admin", ADMIN_PASSWORD)
        token = client.token
        revoke = await a.client.post(
            "/v1/tokens/revoke", headers={"Authorization": f"Bearer {token}"}
        )
        assert revoke.status == 204
        with pytest.raises(SessionEnded):
            await client.renew()
        assert ended == ["session-revoked"] and client.token is None and not path.exists()


async def a_failed_renewal_keeps_the_token_until_exp(a: Zone) -> None:
    offset = {"s": 0.0}
    ended: list[str] = []
    async with TweestapClient(
        [url(a)], clock=lambda: time.time() + offset["s"], jitter=0, on_session_ended=ended.append
    ) as client:
        await client.login("fysio", "admin", ADMIN_PASSWORD)
        token = client.token
        await a.client.close()
        offset["s"] = 310  # past renew_after (X/2), before exp
        assert await client.bearer() == token, "renewal failed: the current token meanwhile"
        assert client._held is not None and client._held.schedule.failures == 1
        offset["s"] = 601  # past exp: never handed out
        assert client.token is None
        with pytest.raises(SessionEnded) as end:
            await client.bearer()
        assert isinstance(end.value, NotLoggedIn) and end.value.reason == "token-expired"
        assert ended == ["token-expired"], "the hook hears of it once"
        with pytest.raises(NotLoggedIn):
            await client.bearer()
        assert ended == ["token-expired"]


async def a_timeout_moves_the_call_to_the_next_zone(a: Zone) -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), 5)
        return web.json_response({}, status=200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    slow = TestServer(app)
    await slow.start_server()
    try:
        async with TweestapClient(
            [str(slow.make_url("")).rstrip("/"), url(a)],
            timeout=aiohttp.ClientTimeout(total=0.5, connect=0.5),
        ) as client:
            # The password may have reached the slow zone: it is not sent to another
            # (Hardening II finding 10); the next login goes to the zone that answers.
            with pytest.raises(LoginInterrupted):
                await client.login("fysio", "admin", ADMIN_PASSWORD)
            step = await client.login("fysio", "admin", ADMIN_PASSWORD)
            assert step.next == "done" and client.zone == 1
    finally:
        release.set()
        await slow.close()


async def a_zone_that_hung_is_tried_last_until_it_answers(a: Zone) -> None:
    """Zone 0 takes the password but hangs on the second factor: the login is interrupted
    after the timeout, and the next login goes straight to zone 1, not into the hang again."""
    hits: list[str] = []
    release = asyncio.Event()

    async def password(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"next": "second_factor", "login_id": "L1", "factors": ["totp"]})

    async def hang(request: web.Request) -> web.Response:
        hits.append(request.path)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), 5)
        return web.json_response({"title": "late"}, status=503)

    app = web.Application()
    app.router.add_post("/v1/login", password)
    app.router.add_route("*", "/{tail:.*}", hang)
    hung = TestServer(app)
    await hung.start_server()
    try:
        async with TweestapClient(
            [str(hung.make_url("")).rstrip("/"), url(a)],
            timeout=aiohttp.ClientTimeout(total=0.5),
            probe_interval=3600,
        ) as client:
            step = await client.login("fysio", "admin", ADMIN_PASSWORD)
            assert step.zone == 0 and client.zone == 0
            with pytest.raises(LoginInterrupted) as interrupted:
                await step.verify("totp", code="123456")
            assert interrupted.value.may_have_applied is True, "a timeout: it may have arrived"
            again = await client.login("fysio", "admin", ADMIN_PASSWORD)
            assert again.next == "done" and again.zone == 1 and client.zone == 1
            # The verify in zone 0 was followed by its liveness check (which hung too), and
            # the next login went straight to zone 1.
            assert hits == ["/v1/login", "/v1/login/L1/verify", "/v1/status"], (
                "zone 0 was not tried again"
            )
    finally:
        release.set()
        await hung.close()


# Bootstrapping a zone takes seconds (replication through the broker): the scenarios share one.


async def test_one_zone(cluster: Cluster, tmp_path: Path) -> None:
    a = await cluster.start("a", token_lifetime_seconds=600)
    await cluster.bootstrap(a)
    for name in ("lifecycle", "shared", "revoked"):
        (tmp_path / name).mkdir()
    await login_renew_logout_and_the_token_file(a, tmp_path / "lifecycle")
    await two_clients_sharing_the_file_renew_once(a, tmp_path / "shared")
    await a_revoked_session_ends_with_the_hook(a, tmp_path / "revoked")
    await a_failed_renewal_keeps_the_token_until_exp(a)  # last: closes the zone


async def test_unhealthy_preferred_zones(cluster: Cluster, down: str) -> None:
    a = await cluster.start("a")
    await cluster.bootstrap(a)
    await a_503_moves_the_login_to_the_next_zone(a, down)
    await the_probe_moves_back_to_the_preferred_zone(a)
    await a_timeout_moves_the_call_to_the_next_zone(a)
    await a_zone_that_hung_is_tried_last_until_it_answers(a)


async def test_a_front_end_acting_for_people_gives_each_their_own_login_budget(
    cluster: Cluster,
) -> None:
    """Behind a trusted front end, the login rate limit counts the person the SDK acts for;
    without ``acting_for`` every login through the front end shares its one budget."""
    a = await cluster.start("a", login_rate_attempts=2, trusted_proxies=["127.0.0.0/8", "::1/128"])

    async def statuses(people: list[str | None]) -> list[int]:
        found: list[int] = []
        async with TweestapClient([url(a)], hedge_after=None) as client:
            for person in people:
                with acting_for(person):
                    try:  # a username each: the lockout per username is not what is tested
                        await client.login("fysio", f"nobody{len(found)}", "wrong")
                    except TweestapError as error:
                        found.append(error.status)
        return found

    assert await statuses(["192.0.2.1", "192.0.2.2", "192.0.2.3"]) == [401, 401, 401]
    assert await statuses(["192.0.2.4"] * 3) == [401, 401, 429]
    assert await statuses([None] * 3) == [401, 401, 429], "the front end's own budget"
